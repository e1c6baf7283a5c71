"""File formats shared by several stages (MLIP .cfg labelled sets)."""
