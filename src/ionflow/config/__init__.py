"""User configuration files: `ionflow config init` renders them, `check` validates them."""
