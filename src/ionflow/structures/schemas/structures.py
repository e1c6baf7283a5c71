"""``StructureSetDocument``: structures made by one builder, with how each was made.

The summary (formula, size, space group, Ewald energy, halide fraction on 4c,
provenance) stays in the task document; the structures themselves go to the JobStore
``data`` store (``@job(data="structures")``), so large supercells and GB models never
bloat task documents.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field
from pymatgen.core import Structure

from ionflow.structures.argyrodite import halide_4c_fraction, space_group_symbol

MAX_ATOMS_FOR_SYMMETRY = 3000  # spglib on larger cells is slow and always P1 here


class StructureRecord(BaseModel):
    """What one structure is and how it was made (no coordinates)."""

    label: str = Field(description="short unique name, also the file stem")
    formula: str = Field(description="reduced formula")
    n_atoms: int = Field(description="number of sites in the cell")
    space_group: str = Field(description="international symbol (symprec 0.1 Å)")
    volume: float = Field(description="cell volume, Å^3")
    ewald_energy: float | None = Field(None, description="Ewald energy, eV per cell")
    halide_4c_fraction: float | None = Field(
        None, description="argyrodite: fraction of 4c sites holding the halide"
    )
    parent: str = Field(description="parent structure name or file")
    provenance: dict[str, Any] = Field(description="transformation and its parameters")

    @classmethod
    def from_structure(
        cls, structure: Structure, how: dict[str, Any], parent: str, label: str
    ) -> StructureRecord:
        """Summarise ``structure`` made as described by ``how`` from ``parent``."""
        if "space_group" in how:
            symbol = how["space_group"]
        elif len(structure) <= MAX_ATOMS_FOR_SYMMETRY:
            symbol = space_group_symbol(structure)
        else:
            symbol = "not analysed"
        fraction = how.get("halide_4c_fraction", halide_4c_fraction(structure))
        return cls(
            label=label,
            formula=structure.composition.reduced_formula,
            n_atoms=len(structure),
            space_group=symbol,
            volume=structure.volume,
            ewald_energy=how.get("ewald_energy"),
            halide_4c_fraction=fraction,
            parent=parent,
            provenance=how,
        )


class StructureSetDocument(BaseModel):
    """Structures from one builder, in order, with their records."""

    kind: str = Field(description="builder: configurations, esgs, sqs, strain, ...")
    parent: str = Field(description="parent structure name or file")
    records: list[StructureRecord] = Field(description="one record per structure")
    structures: list[Structure] = Field(description="the structures (to the data store)")

    @classmethod
    def from_pairs(
        cls, kind: str, parent: str, pairs: Sequence[tuple[Structure, dict[str, Any]]]
    ) -> StructureSetDocument:
        """Build from ``(structure, how)`` pairs; labels come from ``how['label']`` or kind."""
        records, structures = [], []
        for index, (structure, how) in enumerate(pairs):
            label = how.get("label") or f"{kind}-{index:03d}"
            records.append(StructureRecord.from_structure(structure, how, parent, label))
            structures.append(structure)
        return cls(kind=kind, parent=parent, records=records, structures=structures)

    def summary(self) -> list[dict[str, Any]]:
        """JSON-ready records (what ``summary.json`` holds)."""
        return [record.model_dump(mode="json") for record in self.records]
