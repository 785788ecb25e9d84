"""Running cameras: threads, per-camera counting, the service and its wiring."""
