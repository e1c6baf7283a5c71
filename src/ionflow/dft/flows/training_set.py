"""Relax -> strain -> AIMD -> labelling at several levels of theory (SPEC stages 2-5)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from jobflow import Flow, Maker, job
from pymatgen.core import Structure

from ionflow.dft.jobs.aimd import AimdSnapshotMaker
from ionflow.dft.jobs.label import LabelMaker, label_in_batches
from ionflow.dft.jobs.relax import RelaxMaker
from ionflow.dft.labelled_set import provenance, with_provenance
from ionflow.dft.schemas.runs import AimdSnapshotsDocument, RelaxDocument
from ionflow.dft.sets import LEVELS_OF_THEORY, check_oracle_level
from ionflow.dft.sets.oracle import OracleSettings


@job
def strained_structures(
    relaxed: RelaxDocument | Structure,
    magnitudes: list[float],
    directions: list[str],
) -> list[Structure]:
    """Return the relaxed structure followed by its strained copies (with provenance)."""
    from ionflow.structures.strain import strain_perturbations

    structure = relaxed.structure if isinstance(relaxed, RelaxDocument) else relaxed
    origin = provenance(structure)
    base = with_provenance(structure, source=origin.get("source", "input"), strain="none")
    strained = [
        with_provenance(
            copy,
            source=f"strained/{origin.get('source', 'input')}",
            strain=f"{how['direction']}{how['strain']:+.3f}",
        )
        for copy, how in strain_perturbations(structure, magnitudes, directions)
    ]
    return [base, *strained]


@job(data="snapshots")
def collect_snapshots(runs: list[AimdSnapshotsDocument]) -> dict:
    """Concatenate the snapshots of several AIMD runs (data store)."""
    return {"snapshots": [s for run in runs for s in run.snapshots]}


@dataclass
class TrainingSetFlowMaker(Maker):
    """Relax, strain, run AIMD at each temperature, label snapshots at each level.

    The flow's output maps each level of theory to its merged
    :class:`~ionflow.dft.schemas.labels.LabelledSetDocument`.

    Attributes:
        name: flow name.
        levels_of_theory: levels at which every snapshot is labelled.
        oracle_settings: engine for every step (one oracle for the whole flow).
        relax: relax first (else the input structure is used as is).
        relax_maker: relaxation settings (its oracle settings are replaced).
        strain_magnitudes: engineering strains (``-0.05, 0.05``).
        strain_directions: ``a``, ``b``, ``c``, ``abc``.
        temperatures: AIMD temperatures, K.
        aimd_maker: AIMD settings (temperature and oracle settings are replaced).
        label_maker: labelling settings (level and oracle settings are replaced).
        batch_size: structures per labelling job.
    """

    name: str = "training set"
    levels_of_theory: tuple[str, ...] = LEVELS_OF_THEORY
    oracle_settings: OracleSettings = field(default_factory=OracleSettings)
    relax: bool = True
    relax_maker: RelaxMaker = field(default_factory=RelaxMaker)
    strain_magnitudes: tuple[float, ...] = (-0.05, 0.05)
    strain_directions: tuple[str, ...] = ("a", "b", "c", "abc")
    temperatures: tuple[float, ...] = (300.0, 600.0, 900.0, 1200.0)
    aimd_maker: AimdSnapshotMaker = field(default_factory=AimdSnapshotMaker)
    label_maker: LabelMaker = field(default_factory=LabelMaker)
    batch_size: int = 50

    def make(self, structure: Structure) -> Flow:
        """Build the flow for one configuration ``structure`` (Å)."""
        settings = self.oracle_settings
        for level in {*self.levels_of_theory, self.relax_maker.level_of_theory}:
            check_oracle_level(settings.resolved_oracle(), level)
        jobs = []
        source: RelaxDocument | Structure = structure
        if self.relax:
            relax_job = dataclasses.replace(self.relax_maker, oracle_settings=settings).make(
                structure
            )
            jobs.append(relax_job)
            source = relax_job.output
        strain_job = strained_structures(
            source, list(self.strain_magnitudes), list(self.strain_directions)
        )
        jobs.append(strain_job)
        n_structures = 1 + len(self.strain_magnitudes) * len(self.strain_directions)
        aimd_jobs = []
        for index in range(n_structures):
            for seed, temperature in enumerate(self.temperatures):
                maker = dataclasses.replace(
                    self.aimd_maker,
                    oracle_settings=settings,
                    temperature=temperature,
                    seed=self.aimd_maker.seed + seed,
                    name=f"aimd {index} {temperature:g} K",
                )
                aimd_jobs.append(maker.make(strain_job.output[index]))
        collect = collect_snapshots([j.output for j in aimd_jobs])
        jobs += [*aimd_jobs, collect]
        outputs = {}
        for level in self.levels_of_theory:
            label_maker = dataclasses.replace(
                self.label_maker,
                level_of_theory=level,
                oracle_settings=settings,
                name=f"label {level}",
            )
            label_job = label_in_batches(
                collect.output["snapshots"], label_maker, batch_size=self.batch_size
            )
            label_job.name = f"label {level}"
            jobs.append(label_job)
            outputs[level] = label_job.output
        return Flow(jobs, output=outputs, name=self.name)
