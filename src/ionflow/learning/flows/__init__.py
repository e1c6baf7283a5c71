"""Active learning: flows."""
