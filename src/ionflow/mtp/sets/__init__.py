"""MTP stage: sets."""
