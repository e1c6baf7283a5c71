"""MTP stage: jobs."""
