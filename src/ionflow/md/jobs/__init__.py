"""MD stage: jobs."""
