"""Neighbourhood-mode candidates: the extrapolative atoms of a large cell, each cut out.

Exploration of a large cell (a grain-boundary model) finds snapshots graded above
``gamma_select``; the snapshot itself is far too large to label. Its atoms are graded one
by one (MLIP-3's neighbourhood rows against the training set's MaxVol active set); around
each atom above ``gamma_select``, most extrapolative first and at most
``max_cuts_per_configuration`` per snapshot, the neighbourhood is cut into a small periodic
cell (:func:`ionflow.structures.neighbourhood.cut_neighbourhood`), or, with ``shape``
``slab``, the slab of the cell within ``radius_A`` of it along ``axis`` (periodic in the
other two directions: the plane of a grain-boundary model,
:func:`ionflow.structures.neighbourhood.cut_slab`). Centres closer than ``radius_A`` (along
``axis`` for slabs) to a centre already cut are skipped: their cuts would overlap. The
cut cells replace the snapshots as candidates, so MaxVol selection and labelling only ever
see cells of at most ``max_atoms`` atoms.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from ase import Atoms

from ionflow.mtp import motep_api
from ionflow.structures.neighbourhood import cut_neighbourhood, cut_slab


@dataclass
class NeighbourhoodCutter:
    """Cut small periodic cells around the extrapolative atoms of large candidates.

    Attributes:
        radius_A: neighbourhood radius kept around each centre, Å (at least the MTP's
            cutoff, so the centre's whole environment is labelled).
        gap_A: vacuum between periodic images of a cut cell, Å.
        min_distance_A: a cut with two atoms closer than this (Å) is not used.
        max_atoms: a cut with more atoms is not used (the bound on labelled cell size).
        max_cuts_per_configuration: at most this many cuts per snapshot.
        shape: ``sphere`` (a cluster in vacuum) or ``slab`` (periodic in the plane normal
            to ``axis``, cut along it: for cells narrow in that plane, a GB model).
        axis: lattice direction a slab is cut along.
        units: species -> bond length (Å) of covalent units kept whole in a cut
            (``{"P": 2.5}``: PS4 tetrahedra), None: atoms are kept by distance alone.
    """

    radius_A: float = 6.0
    gap_A: float = 5.0
    min_distance_A: float = 0.5
    max_atoms: int = 200
    max_cuts_per_configuration: int = 4
    shape: Literal["sphere", "slab"] = "sphere"
    axis: int = 2
    units: dict[str, float] | None = None

    def __call__(
        self, data, training_set: Sequence[Atoms], candidates: Sequence[Atoms], gamma_select: float
    ) -> tuple[list[Atoms], list[float]]:
        """Return (cut cells, grade of each cut's centre atom) for ``candidates``."""
        if not candidates:
            return [], []
        active = motep_api.active_set(data, training_set)
        cuts, grades = [], []
        for atoms in candidates:
            atom_grades = motep_api.grades_against(
                active, motep_api.neighbourhood_rows(data, [atoms])
            )
            centres: list[int] = []
            for index in np.argsort(-atom_grades):
                if atom_grades[index] <= gamma_select:
                    break
                if len(centres) >= self.max_cuts_per_configuration:
                    break
                if centres and self._separation(atoms, int(index), centres) < self.radius_A:
                    continue
                try:
                    cut = self.cut(atoms, int(index))
                except ValueError:  # too dense or atoms too close: not a cell to label
                    continue
                centres.append(int(index))
                cuts.append(cut)
                grades.append(float(atom_grades[index]))
        return cuts, grades

    def cut(self, atoms: Atoms, centre: int) -> Atoms:
        """The cell cut around atom ``centre`` of ``atoms`` (raises ValueError if unusable)."""
        if self.shape == "slab":
            return cut_slab(
                atoms, centre, self.radius_A, self.gap_A, self.axis,
                self.min_distance_A, self.max_atoms, self.units,
            )  # fmt: skip
        return cut_neighbourhood(
            atoms, centre, self.radius_A, self.gap_A,
            self.min_distance_A, self.max_atoms, self.units,
        )  # fmt: skip

    def _separation(self, atoms: Atoms, index: int, centres: list[int]) -> float:
        """Shortest distance (Å; along ``axis`` for slabs) from atom ``index`` to ``centres``."""
        if self.shape != "slab":
            return float(atoms.get_distances(index, centres, mic=True).min())
        frac = atoms.get_scaled_positions()[:, self.axis]
        offsets = (frac[centres] - frac[index] + 0.5) % 1.0 - 0.5
        return float(np.abs(offsets).min() * np.linalg.norm(atoms.cell[self.axis]))
