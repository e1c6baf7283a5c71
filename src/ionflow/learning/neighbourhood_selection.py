"""Neighbourhood-mode candidates: the extrapolative atoms of a large cell, each cut out.

Exploration of a large cell (a grain-boundary model) finds snapshots graded above
``gamma_select``; the snapshot itself is far too large to label. Its atoms are graded one
by one (MLIP-3's neighbourhood rows against the training set's MaxVol active set); around
each atom above ``gamma_select``, most extrapolative first and at most
``max_cuts_per_configuration`` per snapshot, the neighbourhood is cut into a small periodic
cell (:func:`ionflow.structures.neighbourhood.cut_neighbourhood`). Centres closer than
``radius_A`` to a centre already cut are skipped: their neighbourhoods would overlap. The
cut cells replace the snapshots as candidates, so MaxVol selection and labelling only ever
see cells of at most ``max_atoms`` atoms.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from ase import Atoms

from ionflow.mtp import motep_api
from ionflow.structures.neighbourhood import cut_neighbourhood


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
    """

    radius_A: float = 6.0
    gap_A: float = 5.0
    min_distance_A: float = 0.5
    max_atoms: int = 200
    max_cuts_per_configuration: int = 4

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
                if centres and atoms.get_distances(index, centres, mic=True).min() < self.radius_A:
                    continue
                try:
                    cut = cut_neighbourhood(
                        atoms, int(index), self.radius_A, self.gap_A,
                        self.min_distance_A, self.max_atoms,
                    )  # fmt: skip
                except ValueError:  # too dense or atoms too close: not a cell to label
                    continue
                centres.append(int(index))
                cuts.append(cut)
                grades.append(float(atom_grades[index]))
        return cuts, grades
