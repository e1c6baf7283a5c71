"""Conductivity: flows."""
