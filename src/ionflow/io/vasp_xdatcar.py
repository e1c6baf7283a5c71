"""VASP ``XDATCAR`` trajectories (VASP 5/6, fixed or variable cell), streamed frame by frame.

A frame is a ``Direct configuration= N`` block; a variable-cell run (NPT) repeats the
header (title, scale, lattice, species, counts) before each block, a fixed-cell run
writes it once. Positions are fractional in the file, Cartesian (Å) in the frames; the
``step`` of a frame is its configuration number. Gzip-compressed files are read as they
are. XDATCAR stores no time: the caller gives the time between frames.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import TextIO

import numpy as np

from ionflow.errors import IonflowInputError
from ionflow.io.trajectory_frame import Frame, open_text


def _read_header(handle: TextIO, first_line: str, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(cell in Å, symbols per atom) from a header whose title line was ``first_line``."""
    lines = [handle.readline() for _ in range(6)]
    try:
        scale = float(lines[0].split()[0])
        lattice = np.array([[float(v) for v in line.split()[:3]] for line in lines[1:4]])
        species = lines[4].split()
        counts = [int(v) for v in lines[5].split()]
    except (ValueError, IndexError) as exc:
        if lines[4].split() and lines[4].split()[0].isdigit():
            raise IonflowInputError(
                f"{path}: VASP 4 XDATCAR without element names; "
                "add the element line (VASP 5 format) after the lattice"
            ) from exc
        raise IonflowInputError(
            f"{path}: malformed XDATCAR header after '{first_line.strip()}'"
        ) from exc
    if len(species) != len(counts) or lattice.shape != (3, 3):
        raise IonflowInputError(f"{path}: XDATCAR species and counts lines do not match")
    cell = (
        lattice * scale
        if scale > 0
        else lattice * (-scale / abs(np.linalg.det(lattice))) ** (1 / 3)
    )
    return cell, np.repeat(species, counts)


def iter_xdatcar_frames(path: str | Path) -> Iterator[Frame]:
    """Yield the frames of an XDATCAR (Cartesian Å, wrapped as VASP writes them).

    A truncated last frame (a killed run) is skipped with a warning.

    Raises:
        IonflowInputError: a malformed header or position line.
    """
    path = Path(path)
    with open_text(path) as handle:
        title = handle.readline()
        if not title:
            return
        cell, symbols = _read_header(handle, title, path)
        index = 0
        while line := handle.readline():
            words = line.split()
            if not words:
                continue
            if words[0].lower() not in ("direct", "cartesian"):
                cell, new_symbols = _read_header(handle, line, path)  # variable cell
                if len(new_symbols) != len(symbols):
                    raise IonflowInputError(
                        f"{path}: atom count changes from {len(symbols)} to {len(new_symbols)}"
                    )
                continue
            index += 1
            step = int(words[-1]) if words[-1].isdigit() else index
            block = list(islice(handle, len(symbols)))
            if len(block) < len(symbols):
                warnings.warn(
                    f"{path}: truncated last frame (configuration {step}) skipped", stacklevel=2
                )
                return
            try:
                coords = np.array([[float(v) for v in row.split()[:3]] for row in block])
            except ValueError as exc:
                raise IonflowInputError(
                    f"{path}: malformed position line in configuration {step}"
                ) from exc
            positions = coords @ cell if words[0].lower() == "direct" else coords
            yield Frame(step, None, positions, cell.copy(), symbols=symbols)
