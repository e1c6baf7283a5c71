"""Jobflow Makers of the structures stage."""
