"""Command-line interface of ionflow (`ionflow --help`)."""
