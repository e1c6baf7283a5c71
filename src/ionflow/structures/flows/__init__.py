"""Flow Makers of the structures stage."""
