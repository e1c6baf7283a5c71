"""MD stage: flows."""
