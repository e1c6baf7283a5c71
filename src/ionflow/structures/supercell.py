"""Diagonal supercells: fixed scaling, or the smallest reaching a size in atoms or Å."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np
from pymatgen.core import Lattice, Structure

from ionflow.errors import IonflowInputError

MAX_SUPERCELL_ATOMS = 2_000_000  # beyond this no MD engine we drive is practical


def perpendicular_widths(lattice: Lattice) -> np.ndarray:
    """Distances between opposite cell faces (Å), one per lattice vector."""
    matrix = lattice.matrix
    volume = abs(np.linalg.det(matrix))
    widths = []
    for i in range(3):
        j, k = (i + 1) % 3, (i + 2) % 3
        widths.append(volume / np.linalg.norm(np.cross(matrix[j], matrix[k])))
    return np.array(widths)


def parse_scaling(text: str) -> tuple[int, int, int]:
    """Read ``"3x3x3"`` (or ``"3"``) into three positive integers.

    Raises:
        IonflowInputError: text that is not N or NxNxN with positive integers.
    """
    match = re.fullmatch(r"\s*(\d+)\s*(?:[x,]\s*(\d+)\s*[x,]\s*(\d+)\s*)?", text)
    if not match:
        raise IonflowInputError(f"supercell '{text}' is not of the form 3x3x3 or 3")
    values = [int(v) for v in match.groups() if v is not None]
    if len(values) == 1:
        values *= 3
    if min(values) < 1:
        raise IonflowInputError(f"supercell '{text}' needs every factor >= 1")
    return values[0], values[1], values[2]


def supercell_scaling(
    structure: Structure, min_atoms: int | None = None, min_length: float | None = None
) -> tuple[int, int, int]:
    """Smallest diagonal scaling with >= ``min_atoms`` atoms and widths >= ``min_length``.

    Widths are perpendicular distances between cell faces (Å), so a slanted cell is
    not credited with its long vector. Extra repeats for ``min_atoms`` go to the
    currently thinnest direction, which keeps the cell as compact as possible.

    Raises:
        IonflowInputError: non-positive targets or a cell that would exceed
            ``MAX_SUPERCELL_ATOMS``.
    """
    if min_atoms is not None and min_atoms < 1:
        raise IonflowInputError(f"--min-atoms {min_atoms} must be >= 1")
    if min_length is not None and min_length <= 0:
        raise IonflowInputError(f"--min-length {min_length} must be > 0 Å")
    widths = perpendicular_widths(structure.lattice)
    if min_length is not None:
        scaling = [max(1, math.ceil(min_length / w - 1e-9)) for w in widths]
    else:
        scaling = [1, 1, 1]
    if min_atoms is not None:
        while len(structure) * math.prod(scaling) < min_atoms:
            thinnest = int(np.argmin(widths * np.array(scaling)))
            scaling[thinnest] += 1
            if len(structure) * math.prod(scaling) > MAX_SUPERCELL_ATOMS:
                break
    n_atoms = len(structure) * math.prod(scaling)
    if n_atoms > MAX_SUPERCELL_ATOMS:
        raise IonflowInputError(
            f"the requested supercell needs {n_atoms} atoms, more than the limit of "
            f"{MAX_SUPERCELL_ATOMS}; ask for fewer atoms or a shorter length"
        )
    return scaling[0], scaling[1], scaling[2]


def make_supercell(
    structure: Structure,
    scaling: Sequence[int] | None = None,
    min_atoms: int | None = None,
    min_length: float | None = None,
) -> Structure:
    """Return a diagonal supercell of ``structure`` (the input is not changed).

    Args:
        structure: cell to repeat.
        scaling: repeats along a, b, c (e.g. ``(3, 3, 3)``); excludes the two targets.
        min_atoms: smallest acceptable number of atoms (sites).
        min_length: smallest acceptable perpendicular width in every direction (Å).

    Raises:
        IonflowInputError: no or conflicting targets, a factor < 1, or a cell too large.
    """
    if scaling is not None and (min_atoms is not None or min_length is not None):
        raise IonflowInputError("give either a supercell scaling or min atoms/length, not both")
    if scaling is None and min_atoms is None and min_length is None:
        raise IonflowInputError("give a supercell scaling (e.g. 3x3x3), min atoms or min length")
    if len(structure) == 0:
        raise IonflowInputError("cannot make a supercell of an empty structure")
    if scaling is not None:
        factors = [int(s) for s in scaling]
        if len(factors) != 3 or min(factors) < 1:
            raise IonflowInputError(f"supercell scaling {list(scaling)} needs three factors >= 1")
        if len(structure) * math.prod(factors) > MAX_SUPERCELL_ATOMS:
            raise IonflowInputError(
                f"supercell {factors} would have more than {MAX_SUPERCELL_ATOMS} atoms"
            )
    else:
        factors = list(supercell_scaling(structure, min_atoms=min_atoms, min_length=min_length))
    return structure.make_supercell(factors, in_place=False)
