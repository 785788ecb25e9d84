"""The device's web server and the pages it serves."""
