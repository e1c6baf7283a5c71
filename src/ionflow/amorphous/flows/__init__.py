"""Amorphous cells: flows."""
