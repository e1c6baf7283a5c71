"""Output documents of the analysis stage."""
