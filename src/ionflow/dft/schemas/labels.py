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

from pydantic import BaseModel, Field

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
    """Summary of one labelled data set (the ``.cfg`` text itself is in the data store).

    Read ``cfg_text`` for the MLIP ``.cfg`` (types follow ``species``); it is routed to
    the JobStore ``data`` store, so the task document only holds a reference to it.
    """

    oracle: str = Field(description="Engine that labelled the data (always reported).")
    level_of_theory: str
    species: list[str] = Field(description="Element symbols in .cfg type order.")
    n_requested: int = Field(description="Structures given to the labelling job(s).")
    n_labelled: int = Field(description="Configurations written to the .cfg.")
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
    cfg_text: str = Field("", description="The MLIP .cfg text (stored in the data store).")
