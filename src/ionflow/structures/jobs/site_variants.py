"""``SiteVariantsMaker``: the configurations of several site variants, each from its parent.

A site comparison (the LSTH study: Li on 1a ordered by ESGS against Li on 24k by SQS)
needs one structure set holding every variant's configurations, each record saying which
variant (``provenance["site"]``) it belongs to, so later stages can keep them apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pymatgen.core import Structure

from ionflow.errors import IonflowInputError
from ionflow.structures.jobs.core import StructureSetMaker
from ionflow.structures.parents import get_parent_structure


@dataclass
class SiteVariantsMaker(StructureSetMaker):
    """The structures of every site variant, in variant order, labelled by variant.

    Attributes:
        labels: one short name per variant (``"1a"``, ``"24k"``).
        materials: the parent of each variant (shipped name or structure file); ``""``
            uses the parent given to ``make``.
        makers: the Maker ordering each variant's parent (ESGS, SQS, parent).
    """

    name: str = "site variants"
    kind: str = "site_variants"
    labels: list[str] = field(default_factory=list)
    materials: list[str] = field(default_factory=list)
    makers: list[StructureSetMaker] = field(default_factory=list)

    def __post_init__(self) -> None:
        """Every variant needs a label, a material and a Maker."""
        if not (len(self.labels) == len(self.materials) == len(self.makers)):
            raise IonflowInputError(
                f"site variants need one label, material and Maker each (got "
                f"{len(self.labels)}, {len(self.materials)}, {len(self.makers)})"
            )

    def build(self, structure: Structure) -> list[tuple[Structure, dict]]:
        """Every variant's structures; ``how`` gains ``site`` and ``site_material``."""
        pairs = []
        for label, material, maker in zip(self.labels, self.materials, self.makers, strict=True):
            parent = get_parent_structure(material) if material else structure
            for ordered, how in maker.build(parent):
                tag = how.get("label") or maker.kind
                pairs.append(
                    (
                        ordered,
                        {
                            **how,
                            "site": label,
                            "site_material": material,
                            "label": f"{label}-{tag}",
                        },
                    )
                )
        return pairs

    def max_structures(self, parent: Structure | str) -> int | None:
        """The sum over the variants (None if one of them has no limit)."""
        counts = [maker.max_structures(material or parent) for material, maker in zip(
            self.materials, self.makers, strict=True
        )]  # fmt: skip
        return None if any(c is None for c in counts) else sum(counts)
