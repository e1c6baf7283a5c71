"""CP2K MD trajectories: ``PROJECT-pos-1.xyz`` with the cell from ``PROJECT-1.cell``.

The positions file is XYZ with CP2K's comment line ``i = STEP, time = T_fs, E = ...``;
the cell file (``MOTION/PRINT/CELL``, one line per step: step, time, the three cell
vectors in Å, volume) gives each frame's cell: the last cell line at or before the
frame's step. Both are read line by line. Positions Cartesian in Å, as CP2K wrote them
(not wrapped by CP2K).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from itertools import islice
from pathlib import Path

import numpy as np

from ionflow.errors import IonflowInputError
from ionflow.io.trajectory_frame import Frame, open_text

COMMENT = re.compile(r"i\s*=\s*(\d+)(?:\s*,\s*time\s*=\s*([-+.\deE]+))?")
POS_SUFFIX = re.compile(r"-pos-(\d+)\.xyz(\.gz)?$")


def cell_file_for(pos_path: str | Path) -> Path:
    """The ``PROJECT-1.cell`` file CP2K writes beside ``PROJECT-pos-1.xyz``."""
    pos_path = Path(pos_path)
    match = POS_SUFFIX.search(pos_path.name)
    if not match:
        raise IonflowInputError(f"{pos_path}: not a CP2K positions file (PROJECT-pos-1.xyz)")
    return pos_path.with_name(pos_path.name[: match.start()] + f"-{match.group(1)}.cell")


def _cells(path: Path) -> Iterator[tuple[int, np.ndarray]]:
    with open_text(path) as handle:
        for line in handle:
            words = line.split()
            if not words or words[0].startswith("#"):
                continue
            try:
                yield int(words[0]), np.array([float(v) for v in words[2:11]]).reshape(3, 3)
            except ValueError as exc:
                raise IonflowInputError(f"{path}: malformed cell line '{line.strip()}'") from exc


def iter_cp2k_frames(pos_path: str | Path, cell_path: str | Path | None = None) -> Iterator[Frame]:
    """Yield the frames of a CP2K ``-pos-1.xyz`` file, each with its cell.

    Args:
        pos_path: ``PROJECT-pos-1.xyz``.
        cell_path: ``PROJECT-1.cell``; default: the one beside ``pos_path``.

    Raises:
        IonflowInputError: missing cell file, malformed lines.
    """
    pos_path = Path(pos_path)
    cell_path = Path(cell_path) if cell_path else cell_file_for(pos_path)
    if not cell_path.is_file():
        raise IonflowInputError(
            f"{pos_path}: the cell file {cell_path.name} is missing; keep it beside the "
            "positions (CP2K writes it with MOTION/PRINT/CELL)"
        )
    cells = _cells(cell_path)
    current = next(cells, None)
    upcoming = next(cells, None)
    if current is None:
        raise IonflowInputError(f"{cell_path}: no cell line")
    with open_text(pos_path) as handle:
        while header := handle.readline():
            if not header.strip():
                continue
            try:
                n_atoms = int(header)
            except ValueError as exc:
                raise IonflowInputError(
                    f"{pos_path}: expected an atom count, got '{header.strip()}'"
                ) from exc
            comment = handle.readline()
            lines = list(islice(handle, n_atoms))
            if len(lines) < n_atoms:
                warnings.warn(f"{pos_path}: truncated last frame skipped", stacklevel=2)
                return
            match = COMMENT.search(comment)
            if not match:
                raise IonflowInputError(
                    f"{pos_path}: comment line is not CP2K's 'i = STEP, time = ...'"
                )
            step = int(match.group(1))
            time_fs = float(match.group(2)) if match.group(2) else None
            while upcoming is not None and upcoming[0] <= step:
                current, upcoming = upcoming, next(cells, None)
            try:
                words = [line.split() for line in lines]
                symbols = np.array([w[0] for w in words])
                positions = np.array([[float(v) for v in w[1:4]] for w in words])
            except (ValueError, IndexError) as exc:
                raise IonflowInputError(f"{pos_path}: malformed atom line at step {step}") from exc
            yield Frame(step, time_fs, positions, current[1].copy(), symbols=symbols)
