"""Sinks receive aggregates only: bucketed counts with labels from the config or fixed lists."""
