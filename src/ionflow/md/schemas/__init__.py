"""MD stage: schemas."""
