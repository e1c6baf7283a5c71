"""Output documents of the structures stage."""
