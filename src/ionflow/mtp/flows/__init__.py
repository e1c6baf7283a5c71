"""MTP stage: flows."""
