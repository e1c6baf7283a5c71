"""One frame of a trajectory, the record every trajectory format is read into.

Units: positions and cell in Å, times in fs.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import numpy as np

GZIP_MAGIC = b"\x1f\x8b"


@dataclass
class Frame:
    """One trajectory frame, atoms sorted by id (LAMMPS) or in file order (others).

    Attributes:
        step: MD step number, or the frame's number where the file gives no step.
        time_fs: time of the frame in fs, or None when the file does not say.
        positions: (N, 3) Cartesian positions in Å.
        cell: (3, 3) lattice vectors (rows) in Å.
        origin: (3,) corner of the cell in Å.
        unwrapped: True when ``positions`` are continuous in time (``xu`` columns or
            image flags applied); False when they may be wrapped into the cell.
        symbols: (N,) element symbols where the format stores them per frame, else None.
    """

    step: int
    time_fs: float | None
    positions: np.ndarray
    cell: np.ndarray
    origin: np.ndarray = field(default_factory=lambda: np.zeros(3))
    unwrapped: bool = False
    symbols: np.ndarray | None = None


def open_text(path: str | Path) -> TextIO:
    """Open a text file for reading, gzip-compressed or not (by its first bytes)."""
    with open(path, "rb") as handle:
        compressed = handle.read(2) == GZIP_MAGIC
    return gzip.open(path, "rt") if compressed else open(path)
