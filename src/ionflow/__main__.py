"""``python -m ionflow``: the ``ionflow`` command (used where the script is not on PATH)."""

from ionflow.cli.main import main

main()
