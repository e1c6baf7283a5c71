"""The whole pipeline: a workflow spec (YAML) -> one jobflow Flow across all stages."""
