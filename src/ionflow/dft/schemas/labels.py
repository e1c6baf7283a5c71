"""Labelled structures and labelled data sets.

Units and sign conventions at every boundary of the DFT stage (whatever the oracle):

- energy: total energy in eV (CP2K's Hartree and VASP's eV converted on parsing);
- forces: eV/Å;
- stress: 3x3 tensor in GPa, **positive under tension** (ASE convention). VASP (kB) and
  CP2K (GPa, bar in MD/GEO_OPT files) print the opposite sign (positive = pressure);
  the parsers flip and convert. The MLIP ``.cfg`` ``PlusStress`` block is the virial
  in eV, ``-stress * volume`` (see :mod:`ionflow.io.mlip_cfg`).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, computed_field

from ionflow.io.labelled_set import LabelledSet

#: Units of every labelled quantity (stored in each summary document).
LABEL_UNITS: dict[str, str] = {
    "energy": "eV",
    "forces": "eV/Å",
    "stress": "GPa, positive under tension (ASE sign)",
    "positions": "Å",
    "cfg_plus_stress": "eV (virial = -stress * volume)",
}


class SinglePointLabel(BaseModel):
    """Energy, forces and stress of one structure from one oracle at one level."""

    oracle: str = Field(description="Engine that computed the label: vasp, cp2k or chgnet.")
    level_of_theory: str = Field(description="PBE, PBE-D3(BJ), optB88-vdW or the model name.")
    energy: float = Field(description="Total energy, eV.")
    forces: list[list[float]] = Field(description="Forces per atom, eV/Å.")
    stress: list[list[float]] | None = Field(
        None, description="Stress tensor, GPa, positive under tension."
    )
    converged: bool = Field(True, description="Electronic SCF converged (else not a label).")
    dispersion_energy: float | None = Field(
        None, description="Dispersion energy the engine printed (D3), eV."
    )
    metadata: dict[str, Any] = Field(default_factory=dict)


class LabellingFailure(BaseModel):
    """A structure that could not be labelled, and why."""

    index: int = Field(description="Position of the structure in the job's input list.")
    reason: str
    provenance: dict[str, Any] = Field(default_factory=dict)


class LabelledSetDocument(BaseModel):
    """Summary of one labelling run and the :class:`~ionflow.io.labelled_set.LabelledSet`.

    ``labelled_set`` holds the labelled structures; stored, its ``.cfg`` text and
    per-structure provenance go to the JobStore ``data`` store (jobs declare
    ``data=LABELLED_SET_DATA_FIELDS``), so the task document holds references to them.
    ``oracle``, ``level_of_theory`` and ``species`` are the set's, repeated in the task
    document for queries and reports.
    """

    labelled_set: LabelledSet = Field(description="The labelled structures (data store).")
    n_requested: int = Field(description="Structures given to the labelling job(s).")
    n_labelled: int = Field(description="Structures in the labelled set.")
    n_from_cache: int = Field(0, description="Labels reused from the label cache.")
    n_computed: int = Field(0, description="Labels computed by the oracle in this run.")
    failures: list[LabellingFailure] = Field(default_factory=list)
    max_failed_fraction: float = Field(0.05, description="Tolerated failed fraction.")
    counts_by_source: dict[str, int] = Field(default_factory=dict)
    counts_by_temperature: dict[str, int] = Field(
        default_factory=dict, description="Keyed by AIMD temperature in K ('none' if not MD)."
    )
    counts_by_strain: dict[str, int] = Field(default_factory=dict)
    energy_per_atom_range: tuple[float, float] | None = Field(None, description="eV/atom.")
    max_force: float | None = Field(None, description="Largest force component norm, eV/Å.")
    stress_range: tuple[float, float] | None = Field(None, description="GPa (tension > 0).")
    units: dict[str, str] = Field(default_factory=lambda: dict(LABEL_UNITS))

    @computed_field(description="Engine that labelled the data (always reported).")
    @property
    def oracle(self) -> str:
        """Engine that labelled the data (the labelled set's)."""
        return self.labelled_set.oracle

    @computed_field
    @property
    def level_of_theory(self) -> str:
        """Level of theory of the labels (the labelled set's)."""
        return self.labelled_set.level_of_theory

    @computed_field(description="Element symbols in .cfg type order.")
    @property
    def species(self) -> list[str]:
        """Element symbols in ``.cfg`` type order (the labelled set's)."""
        return self.labelled_set.species
