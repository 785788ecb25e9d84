"""Non-identifying attributes. Importing this package loads no model: only ``bins`` is imported here."""
