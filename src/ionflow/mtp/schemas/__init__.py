"""MTP stage: schemas."""
