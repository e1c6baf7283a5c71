"""MD stage: sets."""
