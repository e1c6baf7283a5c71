"""Makers of the analysis stage."""
