"""The log file a job leaves in its folder (atomate2 keeps every job's folder).

:func:`job_log` copies what a job prints and logs into a file of its folder while the
job runs, and appends the traceback when it fails, so a failed job's folder holds its
inputs and the record of what went wrong.
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path
from typing import TextIO


class _Tee:
    """A text stream writing to the console stream and to the log file."""

    def __init__(self, console: TextIO, log: TextIO) -> None:
        self.console, self.log = console, log

    def write(self, text: str) -> int:
        self.log.write(text)
        return self.console.write(text)

    def flush(self) -> None:
        self.log.flush()
        self.console.flush()

    def isatty(self) -> bool:
        return False  # progress bars print their final state, not escape sequences


@contextmanager
def job_log(path: str | Path) -> Iterator[Path]:
    """Copy stdout, stderr and log records (WARNING and above) to ``path`` meanwhile.

    On an exception the traceback is appended to ``path`` before it propagates.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as log:
        handler = logging.StreamHandler(log)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logging.getLogger().addHandler(handler)
        try:
            with redirect_stdout(_Tee(sys.stdout, log)), redirect_stderr(_Tee(sys.stderr, log)):
                yield path
        except BaseException:
            log.write(traceback.format_exc())
            raise
        finally:
            logging.getLogger().removeHandler(handler)
