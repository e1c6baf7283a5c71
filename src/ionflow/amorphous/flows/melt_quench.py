"""``MeltQuenchFlowMaker``: starting cell -> melt-quench MD (MD stage) -> expanded cells."""

from __future__ import annotations

from dataclasses import dataclass, field

from jobflow import Flow, Maker
from pymatgen.core import Structure

from ionflow.amorphous.recipe import MeltQuenchRecipe
from ionflow.structures.jobs.core import AmorphousExpansionMaker, AmorphousStartMaker


@dataclass
class MeltQuenchFlowMaker(Maker):
    """Amorphous cells by melt-quench (3000 K, 1 ns, 5 K/ps to 500 K by default).

    Attributes:
        recipe: the melt-quench protocol; its ``md_maker()`` runs on the MD engine.
        start: builds the cell to melt (target density).
        expansion: expands the quenched cell (105/110/115 % volume).
        md_kwargs: extra settings for the MD-stage Maker (engine, walltime, ...).
    """

    name: str = "melt quench"
    recipe: MeltQuenchRecipe = field(default_factory=MeltQuenchRecipe)
    start: AmorphousStartMaker = field(default_factory=AmorphousStartMaker)
    expansion: AmorphousExpansionMaker = field(default_factory=AmorphousExpansionMaker)
    md_kwargs: dict = field(default_factory=dict)

    def make(self, structure: Structure | str, mtp: str) -> Flow:
        """Flow: start cell, melt-quench MD with the potential ``mtp``, expansion."""
        start = self.start.make(structure)
        md = self.recipe.md_maker(**self.md_kwargs).make(start.output.structures[0], mtp)
        expand = self.expansion.make(md.output.final_structure)
        return Flow([start, md, expand], output=expand.output, name=self.name)
