"""Relaxation of cell and ions (shared SPEC.md stage 2)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from jobflow import Maker, job
from pymatgen.core import Structure

from ionflow.dft.labelled_set import with_provenance
from ionflow.dft.run import run_relax
from ionflow.dft.schemas.runs import RelaxDocument
from ionflow.dft.sets import check_oracle_level
from ionflow.dft.sets.oracle import OracleSettings
from ionflow.errors import IonflowError, Retry


class RelaxNotConvergedError(IonflowError, RuntimeError):
    """The relaxation did not converge (after custodian's handlers, for DFT engines).

    Not retried: the same start, settings and step limit end the same way.
    """

    retry = Retry.NO


@dataclass
class RelaxMaker(Maker):
    """Relax cell and ions until every force is below ``force_tolerance``.

    Attributes:
        name: job name.
        level_of_theory: level of the relaxation (the papers relax at PBE).
        oracle_settings: engine and numerical settings (500 eV, 2x2x2 by default).
        force_tolerance: eV/Å.
        max_steps: optimiser steps.
        require_convergence: fail the job if the relaxation did not converge.
    """

    name: str = "relax"
    level_of_theory: str = "PBE"
    oracle_settings: OracleSettings = field(default_factory=OracleSettings)
    force_tolerance: float = 0.04
    max_steps: int = 200
    require_convergence: bool = True

    def __post_init__(self) -> None:
        """Reject an unknown level (or one the oracle lacks) when the Maker is built."""
        self.oracle_settings.check_level(self.level_of_theory)

    @job
    def make(self, structure: Structure) -> RelaxDocument:
        """Relax ``structure`` (Å) and return the relaxed structure and its energy (eV).

        Raises:
            RelaxNotConvergedError: not converged and ``require_convergence``.
        """
        check_oracle_level(self.oracle_settings.resolved_oracle(), self.level_of_theory)
        result = run_relax(
            structure,
            self.level_of_theory,
            Path.cwd() / "relax",
            self.oracle_settings,
            self.force_tolerance,
            self.max_steps,
        )
        if self.require_convergence and not result.converged:
            raise RelaxNotConvergedError(
                result.failure
                or f"relaxation did not reach forces < {self.force_tolerance} eV/Å in "
                f"{self.max_steps} steps; raise max_steps or start closer"
            )
        return RelaxDocument(
            oracle=self.oracle_settings.resolved_oracle(),
            level_of_theory=self.level_of_theory,
            structure=with_provenance(result.structure, source="relaxed", strain="none"),
            energy=result.energy,
            converged=result.converged,
            failure=result.failure,
            n_steps=result.n_steps,
            force_tolerance=self.force_tolerance,
        )
