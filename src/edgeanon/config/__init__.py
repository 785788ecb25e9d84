"""The validated configuration: its schema, the YAML loader and shared names."""
