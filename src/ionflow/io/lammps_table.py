"""LAMMPS ``pair_style table`` files: one tabulated pair potential per section."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np


def write_pair_table(
    path: str | Path,
    sections: Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
    comment: str = "ionflow pair table",
) -> None:
    """Write a ``pair_style table`` file (LAMMPS metal units).

    Args:
        path: file to write.
        sections: keyword -> (r Å, energy eV, force -dE/dr eV/Å), ``r`` increasing; each
            becomes one section ``KEYWORD / N n / index r e f`` that ``pair_coeff i j
            table <path> KEYWORD`` reads.
        comment: first line of the file.
    """
    lines = [f"# {comment}", ""]
    for keyword, (r_A, energy_eV, force_eV_A) in sections.items():
        if np.any(np.diff(r_A) <= 0):
            raise ValueError(f"table section {keyword}: distances must increase")
        lines += [keyword, f"N {len(r_A)}", ""]
        lines += [
            f"{k + 1} {r:.10f} {e:.12e} {f:.12e}"
            for k, (r, e, f) in enumerate(zip(r_A, energy_eV, force_eV_A, strict=True))
        ]
        lines += [""]
    Path(path).write_text("\n".join(lines))
