"""Core repulsion: a ZBL wall below each element pair's closest training distance.

An MTP knows nothing about distances shorter than those in its training set: below them
it extrapolates, and it can attract where the true potential repels (a pair falls
together and LAMMPS loses atoms). As ACE/pacemaker's core repulsion and DeePMD's DP-ZBL,
the MD adds a pair term that acts only there: the Ziegler-Biersack-Littmark universal
screened nuclear repulsion times a switch that is 1 up to ``r_in - switch_width_A`` and
falls smoothly (quintic smoothstep: value, first and second derivative continuous) to
exactly 0 at ``r_in`` = ``fraction`` x the pair's closest distance in the training set.
At every distance present in the training set the wall is zero: the MTP's fit is not
changed, and any wall energy in a run means the trajectory went where the potential was
never trained. Below r_in the wheel engine also holds the MTP itself at r_in
(:func:`ionflow.md.mtp_callback.evaluate_held`): an additive wall alone cannot stop a pair
falling where the MTP's polynomial radial basis diverges (below its ``min_dist``: -9e3 eV
at 1.0 Å Li-Li, against +2 eV of ZBL). ``pair_style mlip`` cannot do that, so with the
``lmp`` engine the wall is only additive and the MD document says so.

LAMMPS gets the wall as ``pair_style table`` (a per-pair table file, spline
interpolation, each pair's cutoff its ``r_in``) overlaid on the MTP
(``hybrid/overlay``), and its energy as the thermo column ``c_wall``
(``compute pair table``). Units: Å, eV, eV/Å.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from ase.data import atomic_numbers
from pydantic import BaseModel, Field, model_validator

from ionflow.errors import IonflowInputError
from ionflow.io.lammps_table import write_pair_table
from ionflow.structures.contacts import pair_name

COULOMB_EV_A = 14.399645  # e^2 / (4 pi eps0), eV Å
ZBL_SCREENING_LENGTH_A = 0.46850  # a = 0.46850 / (Z_i^0.23 + Z_j^0.23), Å
ZBL_COEFFICIENTS = (0.18175, 0.50986, 0.28022, 0.02817)
ZBL_EXPONENTS = (3.19980, 0.94229, 0.40290, 0.20162)

TABLE_FILE = "wall.table"
WALL_COMPUTE = "wall"  # thermo column c_wall: the wall's energy (eV)
WALL_THERMO_COLUMN = f"c_{WALL_COMPUTE}"
TABLE_INNER_A = 0.5  # shortest tabulated distance (Å); closer, LAMMPS stops the run
TABLE_POINTS = 2000  # points per pair in the file (evenly spaced in r)
TABLE_LENGTH = 10000  # LAMMPS's internal spline table per pair


def zbl(r_A: np.ndarray, z_i: int, z_j: int) -> tuple[np.ndarray, np.ndarray]:
    """ZBL energy (eV) and its derivative dE/dr (eV/Å) of a pair of nuclei at ``r_A``."""
    r_A = np.asarray(r_A, dtype=float)
    a = ZBL_SCREENING_LENGTH_A / (z_i**0.23 + z_j**0.23)
    phi = np.zeros_like(r_A)
    dphi = np.zeros_like(r_A)
    for c, d in zip(ZBL_COEFFICIENTS, ZBL_EXPONENTS, strict=True):
        term = c * np.exp(-d * r_A / a)
        phi += term
        dphi -= d / a * term
    prefactor = COULOMB_EV_A * z_i * z_j
    energy = prefactor * phi / r_A
    return energy, prefactor * (dphi / r_A - phi / r_A**2)


def switch(r_A: np.ndarray, r_on_A: float, r_off_A: float) -> tuple[np.ndarray, np.ndarray]:
    """Smoothstep switch: 1 below ``r_on_A``, 0 beyond ``r_off_A``; value and d/dr (1/Å)."""
    t = np.clip((np.asarray(r_A, dtype=float) - r_on_A) / (r_off_A - r_on_A), 0.0, 1.0)
    value = 1.0 - t**3 * (10.0 - 15.0 * t + 6.0 * t**2)
    slope = -30.0 * t**2 * (1.0 - t) ** 2 / (r_off_A - r_on_A)
    return value, slope


class CoreRepulsion(BaseModel):
    """The wall of one MD run: an inner cutoff per element pair.

    Attributes:
        fraction: r_in / the pair's closest training distance.
        inner_cutoffs_A: ``"Li-P"`` -> r_in (Å); the wall is zero at and beyond it.
        switch_width_A: the switch runs from r_in - width to r_in (narrower when r_in
            is short: never below :data:`TABLE_INNER_A`).
    """

    fraction: float = Field(gt=0, le=1)
    inner_cutoffs_A: dict[str, float]
    switch_width_A: float = Field(0.5, gt=0)

    @model_validator(mode="after")
    def _cutoffs_above_the_table(self) -> CoreRepulsion:
        short = {p: r for p, r in self.inner_cutoffs_A.items() if r <= TABLE_INNER_A + 0.05}
        if short:
            raise ValueError(
                f"core repulsion inner cutoffs {short} Å are too short (table starts at "
                f"{TABLE_INNER_A} Å); check the training set's closest distances"
            )
        return self

    @classmethod
    def from_contacts(
        cls,
        closest_pairs_A: Mapping[str, float],
        fraction: float,
        species: Sequence[str],
        switch_width_A: float = 0.5,
    ) -> CoreRepulsion:
        """The wall at ``fraction`` x each pair's closest training distance.

        Args:
            closest_pairs_A: ``"Li-P"`` -> closest distance in the training set (Å), e.g.
                ``MtpFitDocument.closest_pairs_A``.
            fraction: r_in / closest distance (e.g. 0.9).
            species: the run's elements; every pair of them needs a distance.
            switch_width_A: width of the switch below r_in (Å).

        Raises:
            IonflowInputError: if a pair of ``species`` has no distance.
        """
        pairs = {pair_name(a, b) for a in species for b in species}
        missing = sorted(pairs - set(closest_pairs_A))
        if missing:
            raise IonflowInputError(
                f"core repulsion: no closest training distance for {', '.join(missing)}; "
                "give the fit's closest_pairs_A for every element pair of the run"
            )
        cutoffs = {pair: fraction * float(closest_pairs_A[pair]) for pair in sorted(pairs)}
        return cls(fraction=fraction, inner_cutoffs_A=cutoffs, switch_width_A=switch_width_A)

    def switch_start(self, pair: str) -> float:
        """Distance (Å) below which the wall is the full ZBL for ``pair``."""
        r_in = self.inner_cutoffs_A[pair]
        return max(r_in - self.switch_width_A, 0.5 * (TABLE_INNER_A + r_in))

    def energy_force(self, pair: str, r_A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Wall energy (eV) and force -dE/dr (eV/Å) of ``pair`` (``"Li-P"``) at ``r_A``."""
        z_i, z_j = (atomic_numbers[s] for s in pair.split("-"))
        energy, slope = zbl(r_A, z_i, z_j)
        s, ds = switch(r_A, self.switch_start(pair), self.inner_cutoffs_A[pair])
        return energy * s, -(slope * s + energy * ds)

    def write_table(self, path: str | Path) -> None:
        """Write the table file of every pair (section keyword: the pair's name)."""
        sections = {}
        for pair, r_in in self.inner_cutoffs_A.items():
            r_A = np.linspace(TABLE_INNER_A, r_in, TABLE_POINTS)
            energy, force = self.energy_force(pair, r_A)
            energy[-1] = force[-1] = 0.0  # exactly, not to rounding
            sections[pair] = (r_A, energy, force)
        write_pair_table(path, sections, comment="ionflow core repulsion: ZBL x switch")

    def pair_coeffs(self, species: Sequence[str]) -> list[str]:
        """``pair_coeff`` lines of the table sub-style for LAMMPS types ``1..n`` = species."""
        lines = []
        for i, a in enumerate(species):
            for j in range(i, len(species)):
                pair = pair_name(a, species[j])
                r_in = self.inner_cutoffs_A[pair]
                # the same digits as the table's last distance: LAMMPS refuses a cutoff
                # beyond the table, even by rounding
                lines.append(f"pair_coeff {i + 1} {j + 1} table {TABLE_FILE} {pair} {r_in:.10f}")
        return lines

    def type_matrix(self, species: Sequence[str]) -> np.ndarray:
        """(n, n) r_in (Å) per pair of LAMMPS types ``1..n`` = ``species`` (row k: type k+1)."""
        n = len(species)
        matrix = np.empty((n, n))
        for i, a in enumerate(species):
            for j, b in enumerate(species):
                matrix[i, j] = self.inner_cutoffs_A[pair_name(a, b)]
        return matrix

    def active_rows(self, wall_energy_eV: Sequence[float]) -> tuple[int, float]:
        """How many thermo rows had wall energy > 0, and its largest value (eV)."""
        values = np.nan_to_num(np.asarray(wall_energy_eV, dtype=float))
        return int((values > 0).sum()), float(values.max(initial=0.0))
