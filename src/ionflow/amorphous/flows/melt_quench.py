"""``MeltQuenchFlowMaker``: starting cell -> melt-quench MD (MD stage) -> expanded cells."""

from __future__ import annotations

from dataclasses import dataclass, field

from jobflow import Flow, Maker
from pymatgen.core import Structure

from ionflow.md.jobs.melt_quench import MeltQuenchMdMaker
from ionflow.structures.jobs.core import AmorphousExpansionMaker, AmorphousStartMaker


@dataclass
class MeltQuenchFlowMaker(Maker):
    """Amorphous cells by melt-quench (3000 K, 1 ns, 5 K/ps to 500 K by default).

    Attributes:
        md_maker: the melt-hold-quench MD (its fields are the recipe: temperatures,
            hold time, quench rate, time step; a classical ``potential`` or an MTP).
        start: builds the cell to melt (target density).
        expansion: expands the quenched cell (105/110/115 % volume).
    """

    name: str = "melt quench"
    md_maker: MeltQuenchMdMaker = field(default_factory=MeltQuenchMdMaker)
    start: AmorphousStartMaker = field(default_factory=AmorphousStartMaker)
    expansion: AmorphousExpansionMaker = field(default_factory=AmorphousExpansionMaker)

    def make(
        self,
        structure: Structure | str,
        mtp: str | None = None,
        closest_pairs_A: dict[str, float] | None = None,
    ) -> Flow:
        """Flow: start cell, melt-quench MD, expansion.

        ``mtp``: the MTP (path or text); None when ``md_maker`` has a classical potential.
        ``closest_pairs_A``: of the MTP's training set (for ``md_maker.core_repulsion``).
        """
        start = self.start.make(structure)
        md = self.md_maker.make(start.output.structures[0], mtp, closest_pairs_A=closest_pairs_A)
        expand = self.expansion.make(md.output.final_structure)
        return Flow([start, md, expand], output=expand.output, name=self.name)
