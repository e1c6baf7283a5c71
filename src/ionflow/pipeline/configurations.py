"""The configuration methods a workflow spec names, and how many structures each gives."""

from __future__ import annotations

from pymatgen.core import Structure

from ionflow.errors import IonflowInputError
from ionflow.structures.jobs.core import (
    ArgyroditeConfigurationsMaker,
    ElectrostaticGroundStateMaker,
    LithiumContentMaker,
    ParentStructureMaker,
    SqsMaker,
    StructureSetMaker,
)


def configurations_maker(kind: str, n_configurations: int) -> StructureSetMaker:
    """The Maker of the characteristic configurations of method ``kind``."""
    if kind == "argyrodite":
        return ArgyroditeConfigurationsMaker()
    if kind == "esgs":
        return ElectrostaticGroundStateMaker(n_structures=n_configurations)
    if kind == "llzo-vacancies":
        return LithiumContentMaker()
    if kind == "sqs":
        return SqsMaker(n_structures=n_configurations)
    return ParentStructureMaker()


def check_configuration_count(
    maker: StructureSetMaker, parent: Structure | str, n_configurations: int, kind: str
) -> None:
    """Reject a workflow asking for more configurations than its method can produce.

    Raises:
        IonflowInputError: one line naming the method, its count and what to set.
    """
    available = maker.max_structures(parent)
    if available is not None and n_configurations > available:
        raise IonflowInputError(
            f"structures.n_configurations is {n_configurations} but configurations: {kind} "
            f"gives {available} for {parent}; set n_configurations <= {available}"
        )
