"""The active-learning loop: explore -> select -> label -> refit, as a dynamic flow.

States of the loop (written down so resuming can be trusted): each iteration job
(1) saves the state of the finished iterations to ``state_dir/active_learning_state.json``
(labelled set, potential, keys of every labelled configuration, iteration documents);
(2) explores and selects; (3) stops (returns the final document) or replaces itself by
label -> merge -> refit -> next iteration. ``make`` resumes from a saved state when
``state_dir`` holds one, so a crash or a rerun repeats at most the unfinished iteration,
and a configuration whose key was labelled before is never sent to the labeller again.
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from jobflow import Flow, Maker, Response, job
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from ionflow.dft.jobs.label import LabelMaker
from ionflow.io.mlip_cfg import read_labelled_cfg, write_labelled_cfg
from ionflow.learning.explore import AseMdExplorer, Explorer
from ionflow.learning.schemas.active_learning import ActiveLearningDocument, ActiveLearningIteration
from ionflow.mtp import motep_api
from ionflow.mtp.fitting import ACTIVE_LEARNING_WEIGHTS
from ionflow.mtp.jobs.fit import MtpFitMaker
from ionflow.mtp.selection import configuration_key, select_add

STATE_FILE = "active_learning_state.json"


def _images(cfg_text: str, species: list[str]) -> list:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "set.cfg"
        path.write_text(cfg_text)
        return read_labelled_cfg(path, species)


def _cfg_text(images: list, species: list[str]) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        return write_labelled_cfg(images, Path(tmp) / "set.cfg", species).read_text()


def labelled_cfg_of(label_output: object, species: list[str]) -> tuple[str, int]:
    """Return (``.cfg`` text in type order ``species``, number failed) of a label output.

    Accepts ionflow.dft's :class:`~ionflow.dft.schemas.labels.LabelledSetDocument`
    (``cfg_text``, ``species``, ``failures``; as a document or a dict), a mapping with
    ``labelled_cfg`` (and optionally ``n_failed``), or a bare ``.cfg`` string. A set
    written with another type order is rewritten in ``species`` order.
    """
    if isinstance(label_output, str):
        return label_output, 0
    if isinstance(label_output, dict):
        fields = label_output
    elif hasattr(label_output, "model_dump"):
        fields = label_output.model_dump()
    else:
        fields = vars(label_output)
    if "cfg_text" in fields:  # ionflow.dft LabelledSetDocument
        text, n_failed = fields["cfg_text"] or "", len(fields.get("failures") or [])
        own = list(fields.get("species") or species)
        if own != list(species) and text.strip():
            text = _cfg_text(_images(text, own), species)
        return text, n_failed
    return fields.get("labelled_cfg") or "", int(fields.get("n_failed") or 0)


@job(data=["labelled_cfg"])
def merge_labelled(labelled_cfg: str, label_output: object, species: list[str]) -> dict:
    """Append newly labelled configurations to the labelled set (``.cfg`` text)."""
    new_cfg, n_failed = labelled_cfg_of(label_output, species)
    old = _images(labelled_cfg, species)
    new = _images(new_cfg, species) if new_cfg and new_cfg.strip() else []
    return {
        "labelled_cfg": _cfg_text(old + new, species),
        "n_labelled": len(new),
        "n_failed": n_failed,
    }


@dataclass
class ActiveLearningMaker(Maker):
    """Grow the training set where the MTP extrapolates, until exploration finds nothing.

    Attributes:
        name: flow name.
        label_maker: labels pymatgen Structures: ionflow.dft's ``LabelMaker`` (default;
            oracle from the settings) or any Maker whose ``make(structures)`` outputs a
            ``LabelledSetDocument`` or ``{"labelled_cfg": ..., "n_failed": ...}``.
        fit_maker: refits, warm-started (weights 100:1:0.01 as in the paper).
        explorer: exploration MD engine (interface :class:`ionflow.learning.explore.Explorer`):
            :class:`~ionflow.learning.explore.AseMdExplorer` or
            :class:`~ionflow.learning.explore_lammps.LammpsExplorer`.
        temperatures: exploration temperatures, K.
        md_steps: MD steps per structure and temperature.
        gamma_select: keep configurations graded above this.
        gamma_break: stop a run graded above this.
        max_selected: cap on configurations labelled per iteration.
        min_selected: stop when an iteration selects this many or fewer.
        max_iterations: stop after this many iterations.
        state_dir: directory of the resumable state (None: no resume).
    """

    name: str = "active learning"
    label_maker: Maker = field(default_factory=LabelMaker)
    fit_maker: MtpFitMaker = field(
        default_factory=lambda: MtpFitMaker(weights=ACTIVE_LEARNING_WEIGHTS, max_iter=200)
    )
    explorer: Explorer = field(default_factory=AseMdExplorer)
    temperatures: tuple[float, ...] = (300.0, 600.0)
    md_steps: int = 1000
    gamma_select: float = 2.0
    gamma_break: float = 10.0
    max_selected: int = 20
    min_selected: int = 0
    max_iterations: int = 10
    state_dir: str | None = None

    def make(
        self,
        structures: list[Structure],
        labelled_cfg: str,
        species: list[str],
        mtp: str | None = None,
    ) -> Flow:
        """Return the loop as a Flow (fit first if no ``mtp`` is given).

        Args:
            structures: cells to explore (pymatgen Structures).
            labelled_cfg: initial labelled set, ``.cfg`` text.
            species: element symbols in type order.
            mtp: ``.mtp`` text fitted to ``labelled_cfg``; None: fit it first.
        """
        state = self._load_state()
        history: list[dict] = []
        keys: list[str] = []
        if state:
            labelled_cfg, mtp = state["labelled_cfg"], state["mtp"]
            history, keys = state["history"], state["labelled_keys"]
        jobs = []
        if mtp is None:
            fit = self.fit_maker.make(labelled_cfg, species)
            jobs.append(fit)
            mtp = fit.output.mtp
        first = self.iteration(list(structures), species, labelled_cfg, mtp, history, keys, None)
        jobs.append(first)
        return Flow(jobs, output=first.output, name=self.name)

    def _load_state(self) -> dict | None:
        if self.state_dir and (Path(self.state_dir) / STATE_FILE).exists():
            return json.loads((Path(self.state_dir) / STATE_FILE).read_text())
        return None

    def _save_state(self, state: dict) -> None:
        if self.state_dir:
            path = Path(self.state_dir)
            path.mkdir(parents=True, exist_ok=True)
            tmp = path / (STATE_FILE + ".part")
            tmp.write_text(json.dumps(state))
            tmp.replace(path / STATE_FILE)

    @job(data=["mtp", "labelled_cfg"])
    def iteration(
        self,
        structures: list[Structure],
        species: list[str],
        labelled_cfg: str,
        mtp: str,
        history: list[dict],
        labelled_keys: list[str],
        last_step: dict | None,
    ) -> Response | ActiveLearningDocument:
        """One iteration: explore, select, and either stop or add label -> refit -> next."""
        history = [dict(h) for h in history]
        if last_step is not None:  # the previous iteration's labelling and refit finished
            history[-1]["n_labelled"] = last_step["n_labelled"]
            history[-1]["n_failed"] = last_step["n_failed"]
            errors = last_step["validation_errors"]
            history[-1]["validation_errors"] = (
                errors.model_dump() if hasattr(errors, "model_dump") else errors
            )
        training = _images(labelled_cfg, species)
        keys = set(labelled_keys) | {configuration_key(a) for a in training}
        self._save_state(
            {
                "labelled_cfg": labelled_cfg,
                "mtp": mtp,
                "history": history,
                "labelled_keys": sorted(keys),
            }
        )
        number = len(history) + 1
        iterations = [ActiveLearningIteration(**h) for h in history]

        def finish(reason: str) -> ActiveLearningDocument:
            return ActiveLearningDocument(
                iterations=iterations,
                stop_reason=reason,
                n_training=len(training),
                species=species,
                mtp=mtp,
                labelled_cfg=labelled_cfg,
            )

        if number > self.max_iterations:
            return finish(f"reached max_iterations={self.max_iterations}")

        with tempfile.TemporaryDirectory() as tmp:
            mtp_path = Path(tmp) / "current.mtp"
            mtp_path.write_text(mtp)
            cells = [
                AseAtomsAdaptor.get_atoms(s if isinstance(s, Structure) else Structure.from_dict(s))
                for s in structures
            ]
            start = time.perf_counter()
            explored = self.explorer(
                cells,
                self.temperatures,
                self.md_steps,
                str(mtp_path),
                species,
                training,
                self.gamma_select,
                self.gamma_break,
            )
            explore_time = time.perf_counter() - start
            start = time.perf_counter()
            fresh = [a for a in explored.candidates if configuration_key(a) not in keys]
            data = motep_api.read_potential(mtp_path, species)
            chosen = select_add(data, training, fresh, max_selected=self.max_selected)
            select_time = time.perf_counter() - start
        grades = np.array(explored.all_grades or [0.0])
        record = ActiveLearningIteration(
            iteration=number,
            n_graded=len(explored.all_grades),
            grade_max=float(grades.max()),
            grade_percentiles={f"p{q}": float(np.percentile(grades, q)) for q in (50, 90, 99)},
            runs_stopped=explored.runs_stopped,
            n_candidates=len(explored.candidates),
            n_already_labelled=len(explored.candidates) - len(fresh),
            n_duplicates=chosen.duplicates,
            n_selected=len(chosen.indices),
            explore_time_s=explore_time,
            select_time_s=select_time,
        )
        iterations.append(record)
        if len(chosen.indices) <= self.min_selected:
            return finish(f"iteration {number} selected {len(chosen.indices)} configurations")

        selected = [fresh[i] for i in chosen.indices]
        label = self.label_maker.make([AseAtomsAdaptor.get_structure(a) for a in selected])
        merge = merge_labelled(labelled_cfg, label.output, species)
        refit = self.fit_maker.make(merge.output["labelled_cfg"], species, previous_mtp=mtp)
        step = {
            "n_labelled": merge.output["n_labelled"],
            "n_failed": merge.output["n_failed"],
            "validation_errors": refit.output.validation_errors,
        }
        new_keys = sorted(keys | {configuration_key(a) for a in selected})
        following = self.iteration(
            structures,
            species,
            merge.output["labelled_cfg"],
            refit.output.mtp,
            [r.model_dump() for r in iterations],
            new_keys,
            step,
        )
        return Response(replace=Flow([label, merge, refit, following], output=following.output))
