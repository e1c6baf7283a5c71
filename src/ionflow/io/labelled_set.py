"""The labelled set: labelled structures plus who labelled them, in memory and in the store.

A :class:`LabelledSet` holds ASE ``Atoms`` whose calculator carries the labels (energy
eV, forces eV/Å, optionally stress eV/Å^3 in the ASE sign convention), the oracle and
level of theory that computed them, the ``.cfg`` type order (``species``) and one
provenance dict per structure (source, temperature_K, strain, ...). Producers (labelling)
build it from atoms and consumers (fitting, active learning) read ``images`` directly.

The MLIP ``.cfg`` text is made once, at the store boundary: ``as_dict`` (what jobflow
stores) writes the images as ``cfg_text`` and ``from_dict`` (what jobflow resolves)
parses it. Jobs route ``cfg_text`` and ``image_provenance`` to the JobStore ``data``
store with ``@job(data=LABELLED_SET_DATA_FIELDS)``; oracle, level and species stay in
the task document. Stored values have the ``.cfg`` precision
(:func:`ionflow.io.mlip_cfg.labelled_cfg_text`); ``atoms.info`` is not stored
(per-structure metadata belongs in ``provenance``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ase import Atoms
from monty.json import MSONable

from ionflow.errors import IonflowInputError
from ionflow.io.mlip_cfg import default_species_order, labelled_cfg_text, parse_labelled_cfg_text

#: keys of a stored labelled set that go to the JobStore ``data`` store
LABELLED_SET_DATA_FIELDS = ["cfg_text", "image_provenance"]


def _is_labelled(atoms: Atoms) -> bool:
    results = atoms.calc.results if atoms.calc is not None else {}
    return ("energy" in results or "free_energy" in results) and "forces" in results


class LabelledSet(MSONable):
    """Labelled structures of one oracle at one level of theory.

    Args:
        images: structures whose calculator holds ``energy`` (eV) and ``forces`` (eV/Å),
            optionally ``stress`` (eV/Å^3, ASE sign).
        oracle: engine that labelled them (vasp, cp2k, chgnet, ...).
        level_of_theory: PBE, PBE-D3(BJ), optB88-vdW or the model name.
        species: element symbols in ``.cfg`` type order; default: sorted by atomic number.
        provenance: one dict per image (where it comes from); default: empty dicts.

    Raises:
        IonflowInputError: an image without energy and forces, an element missing from
            ``species``, or a provenance list of another length than ``images``.
    """

    def __init__(
        self,
        images: Sequence[Atoms],
        oracle: str,
        level_of_theory: str,
        species: Sequence[str] | None = None,
        provenance: Sequence[dict[str, Any]] | None = None,
    ) -> None:
        self.images = list(images)
        self.oracle = oracle
        self.level_of_theory = level_of_theory
        self.species = list(species) if species else default_species_order(self.images)
        self.provenance = (
            [dict(p) for p in provenance] if provenance is not None else [{} for _ in self.images]
        )
        unlabelled = [i for i, atoms in enumerate(self.images) if not _is_labelled(atoms)]
        if unlabelled:
            raise IonflowInputError(
                f"structures {unlabelled[:5]} carry no energy and forces; a labelled set "
                "holds labelled structures only"
            )
        unknown = {s for a in self.images for s in a.get_chemical_symbols()} - set(self.species)
        if unknown:
            raise IonflowInputError(
                f"elements {sorted(unknown)} are not in the species order {self.species}; "
                "add them to the species list"
            )
        if len(self.provenance) != len(self.images):
            raise IonflowInputError(
                f"{len(self.provenance)} provenance entries for {len(self.images)} structures"
            )

    def __len__(self) -> int:
        return len(self.images)

    def __repr__(self) -> str:
        return (
            f"LabelledSet({len(self)} structures, {self.oracle} at {self.level_of_theory}, "
            f"species {self.species})"
        )

    def cfg_text(self) -> str:
        """Return the MLIP ``.cfg`` text (types follow ``species``) for a file or an engine."""
        images = []
        for atoms in self.images:  # info is not part of the set: provenance is
            if atoms.info:
                bare = atoms.copy()
                bare.info = {}
                bare.calc = atoms.calc
                atoms = bare
            images.append(atoms)
        return labelled_cfg_text(images, self.species)

    @classmethod
    def from_cfg_text(
        cls,
        cfg_text: str,
        species: Sequence[str],
        oracle: str,
        level_of_theory: str,
        provenance: Sequence[dict[str, Any]] | None = None,
    ) -> LabelledSet:
        """Parse MLIP ``.cfg`` text (types follow ``species``) into a labelled set."""
        return cls(
            parse_labelled_cfg_text(cfg_text, species), oracle, level_of_theory, species, provenance
        )

    def as_dict(self) -> dict[str, Any]:
        """Return the stored form: metadata plus ``cfg_text`` and ``image_provenance``."""
        return {
            "@module": type(self).__module__,
            "@class": type(self).__name__,
            "oracle": self.oracle,
            "level_of_theory": self.level_of_theory,
            "species": list(self.species),
            "n_structures": len(self),
            "cfg_text": self.cfg_text(),
            "image_provenance": self.provenance,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LabelledSet:
        """Rebuild a labelled set from its stored form (parses ``cfg_text`` once)."""
        return cls.from_cfg_text(
            d["cfg_text"], d["species"], d["oracle"], d["level_of_theory"], d["image_provenance"]
        )

    @classmethod
    def merge(
        cls, labelled_sets: Sequence[LabelledSet], species: Sequence[str] | None = None
    ) -> LabelledSet:
        """Return one set holding every structure of ``labelled_sets``, in order.

        Args:
            labelled_sets: sets of one oracle at one level of theory.
            species: type order of the result; default: that of the first non-empty set.

        Raises:
            IonflowInputError: no sets, sets of different oracles or levels of theory, or
                an element missing from ``species``.
        """
        if not labelled_sets:
            raise IonflowInputError("no labelled sets to merge")
        first = labelled_sets[0]
        for other in labelled_sets[1:]:
            if other.oracle != first.oracle:
                raise IonflowInputError(
                    f"cannot merge labels of different oracles ({first.oracle} and "
                    f"{other.oracle}); label every structure of a training set with one oracle"
                )
            if other.level_of_theory != first.level_of_theory:
                raise IonflowInputError(
                    f"cannot merge labels at different levels of theory "
                    f"({first.level_of_theory} and {other.level_of_theory}); fit one MTP per level"
                )
        return cls(
            [atoms for s in labelled_sets for atoms in s.images],
            first.oracle,
            first.level_of_theory,
            species or next((s.species for s in labelled_sets if s.species), None),
            [p for s in labelled_sets for p in s.provenance],
        )
