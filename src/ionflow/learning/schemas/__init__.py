"""Active learning: output documents."""
