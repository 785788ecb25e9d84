"""Numbers only: detections, tracks, analytics and the buckets that aggregate them."""
