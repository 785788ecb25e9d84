"""edgeanon: count people on the edge, export only anonymous aggregates."""

__version__ = "0.1.0"
