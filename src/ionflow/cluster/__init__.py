"""A local single-node SLURM cluster (``local_slurm.sh``) for tests and trying things out."""
