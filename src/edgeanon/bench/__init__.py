"""`edgeanon bench`: throughput and capacity measured on this box."""
