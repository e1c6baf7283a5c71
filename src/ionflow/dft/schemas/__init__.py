"""Output documents of the DFT stage (pydantic)."""
