"""Failed jobs of ``ionflow run``: one line each on the terminal, the traceback in the job's folder.

jobflow's local manager logs a failing job as ``<name> failed with exception:`` followed by
the whole traceback, in the job's folder (it runs every job there). A user reading
``ionflow run`` needs which job failed and why (e.g. ``MD in <folder> became unstable
(Lost atoms)``), not fifty lines of frames: :func:`collect_failed_jobs` keeps the traceback
in ``traceback.txt`` of that folder and hands back one :class:`FailedJob` per failure.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

LOCAL_MANAGER_LOGGER = "jobflow.managers.local"
FAILED_MARK = " failed with exception:\n"  # how jobflow's run_locally logs a failed job
TRACEBACK_FILE = "traceback.txt"


@dataclass
class FailedJob:
    """One job that raised.

    Attributes:
        name: the job's name.
        folder: the job's folder (it holds ``traceback.txt``).
        error: the exception, ``Type: message`` (the traceback's last line).
    """

    name: str
    folder: Path
    error: str

    def line(self) -> str:
        """The job, its error and where the traceback is, as one line."""
        return f"job '{self.name}' failed: {self.error} (traceback: {self.folder / TRACEBACK_FILE})"


MAX_ERROR_CHARS = 300
"""An error message longer than this is cut (jobflow's reference errors print whole caches)."""


def error_line(trace: str) -> str:
    """``Type: message`` of the exception a traceback ends with.

    The module path is dropped and a message longer than :data:`MAX_ERROR_CHARS` is cut
    (the whole one stays in ``traceback.txt``).
    """
    last = next((line for line in reversed(trace.splitlines()) if line.strip()), "unknown error")
    kind, colon, message = last.partition(": ")
    kind = kind.rsplit(".", 1)[-1]
    if len(message) > MAX_ERROR_CHARS:
        message = message[:MAX_ERROR_CHARS] + " ..."
    return f"{kind}{colon}{message}"


class _FailedJobFilter(logging.Filter):
    """Takes jobflow's failed-job records off the log; keeps what they said."""

    def __init__(self) -> None:
        super().__init__()
        self.failed: list[FailedJob] = []

    def filter(self, record: logging.LogRecord) -> bool:
        name, mark, trace = record.getMessage().partition(FAILED_MARK)
        if not mark:
            return True
        folder = Path.cwd()  # run_locally logs the failure inside the job's folder
        (folder / TRACEBACK_FILE).write_text(trace)
        self.failed.append(FailedJob(name=name, folder=folder, error=error_line(trace)))
        return False


@contextmanager
def collect_failed_jobs() -> Iterator[list[FailedJob]]:
    """Within the block, failed jobs of ``run_locally`` are collected, not printed.

    Yields:
        The list the failures are appended to, in the order they happened.
    """
    logger = logging.getLogger(LOCAL_MANAGER_LOGGER)
    collector = _FailedJobFilter()
    logger.addFilter(collector)
    try:
        yield collector.failed
    finally:
        logger.removeFilter(collector)
