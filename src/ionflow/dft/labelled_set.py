"""Labelled data sets of the DFT stage: labels -> labelled set + summary, merging, extxyz."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from ionflow.dft.schemas.labels import LabelledSetDocument, LabellingFailure, SinglePointLabel
from ionflow.io.labelled_set import LabelledSet

EV_PER_A3_IN_GPA = 160.21766208
PROVENANCE_KEY = "ionflow"


def provenance(structure: Structure) -> dict[str, Any]:
    """Return where a structure comes from (source, temperature_K, strain, ...).

    Stored in ``structure.properties["ionflow"]`` by the relax, strain and AIMD steps.
    """
    return dict((structure.properties or {}).get(PROVENANCE_KEY, {}))


def with_provenance(structure: Structure, **info: Any) -> Structure:
    """Return a copy of ``structure`` with ``info`` added to its provenance."""
    copy = structure.copy()
    copy.properties = {**(structure.properties or {})}
    copy.properties[PROVENANCE_KEY] = {**provenance(structure), **info}
    return copy


def label_to_atoms(structure: Structure, label: SinglePointLabel) -> Atoms:
    """Return ASE atoms carrying the label (energy eV, forces eV/Å, stress eV/Å^3)."""
    atoms = AseAtomsAdaptor.get_atoms(structure)
    atoms.info = {}  # provenance stays in the summary; .cfg features would not round-trip
    results: dict[str, Any] = {"energy": label.energy, "forces": np.asarray(label.forces)}
    if label.stress is not None:
        results["stress"] = np.asarray(label.stress) / EV_PER_A3_IN_GPA
    atoms.calc = SinglePointCalculator(atoms, **results)
    return atoms


def _key(value: Any) -> str:
    return "none" if value is None else str(value)


def summarise(
    structures: Sequence[Structure],
    labels: Sequence[SinglePointLabel],
    oracle: str,
    level_of_theory: str,
    species: Sequence[str] | None,
    failures: Sequence[LabellingFailure],
    n_requested: int,
    n_from_cache: int,
    max_failed_fraction: float,
) -> LabelledSetDocument:
    """Build the labelled-set document (summary + labelled set) of labelled structures."""
    images = [label_to_atoms(s, lab) for s, lab in zip(structures, labels, strict=True)]
    sources = [provenance(s) for s in structures]
    energies = [lab.energy / len(lab.forces) for lab in labels]
    forces = [np.linalg.norm(lab.forces, axis=1).max() for lab in labels]
    stresses = [np.asarray(lab.stress) for lab in labels if lab.stress is not None]
    return LabelledSetDocument(
        labelled_set=LabelledSet(images, oracle, level_of_theory, species, sources),
        n_requested=n_requested,
        n_labelled=len(images),
        n_from_cache=n_from_cache,
        n_computed=len(images) - n_from_cache,
        failures=list(failures),
        max_failed_fraction=max_failed_fraction,
        counts_by_source=dict(Counter(_key(p.get("source")) for p in sources)),
        counts_by_temperature=dict(Counter(_key(p.get("temperature_K")) for p in sources)),
        counts_by_strain=dict(Counter(_key(p.get("strain")) for p in sources)),
        energy_per_atom_range=(min(energies), max(energies)) if energies else None,
        max_force=float(max(forces)) if forces else None,
        stress_range=(float(min(s.min() for s in stresses)), float(max(s.max() for s in stresses)))
        if stresses
        else None,
    )


def merge_documents(documents: Sequence[LabelledSetDocument]) -> LabelledSetDocument:
    """Merge labelled-set documents of one oracle and level into one (species of the first).

    Raises:
        IonflowInputError: documents of different oracles or levels of theory.
    """
    first = documents[0]
    labelled_set = LabelledSet.merge([d.labelled_set for d in documents], first.species)
    failures, offset = [], 0
    for doc in documents:
        failures += [f.model_copy(update={"index": f.index + offset}) for f in doc.failures]
        offset += doc.n_requested

    def _sum(field: str) -> dict[str, int]:
        total: Counter = Counter()
        for doc in documents:
            total.update(getattr(doc, field))
        return dict(total)

    def _range(field: str) -> tuple[float, float] | None:
        ranges = [getattr(d, field) for d in documents if getattr(d, field) is not None]
        return (min(r[0] for r in ranges), max(r[1] for r in ranges)) if ranges else None

    forces = [d.max_force for d in documents if d.max_force is not None]
    return first.model_copy(
        update={
            "n_requested": sum(d.n_requested for d in documents),
            "n_labelled": sum(d.n_labelled for d in documents),
            "n_from_cache": sum(d.n_from_cache for d in documents),
            "n_computed": sum(d.n_computed for d in documents),
            "failures": failures,
            "counts_by_source": _sum("counts_by_source"),
            "counts_by_temperature": _sum("counts_by_temperature"),
            "counts_by_strain": _sum("counts_by_strain"),
            "energy_per_atom_range": _range("energy_per_atom_range"),
            "stress_range": _range("stress_range"),
            "max_force": max(forces) if forces else None,
            "labelled_set": labelled_set,
        }
    )


def write_extxyz(document: LabelledSetDocument, path: str | Path) -> Path:
    """Write a labelled set as extended XYZ (energy eV, forces eV/Å, stress eV/Å^3).

    The oracle and level of theory go into every frame's ``info``.
    """
    from ase.io import write

    images = []
    for labelled in document.labelled_set.images:
        atoms = labelled.copy()
        atoms.calc = labelled.calc
        atoms.info.update(oracle=document.oracle, level_of_theory=document.level_of_theory)
        images.append(atoms)
    path = Path(path)
    write(path, images, format="extxyz")
    return path
