"""``ionflow demo``: the demo workflow run the way a cluster runs it.

The demo spec (``workflows/demo_li6ps5cl_chgnet.yaml``, or its ``_quick`` twin: every
stage, each as small as still shows its result) is submitted to the LaunchPad
(:func:`ionflow.pipeline.submit.submit_spec`) and the queue is run by ``ionflow launch``
(``--local``: rockets on this machine; ``--slurm``: allocations of the local SLURM of
``ionflow cluster up``) in a process of its own whose output, the engines' chatter
included, goes to ``<out>/launch.log`` and the job folders under ``<out>/jobs``. This
process only reads the LaunchPad (:mod:`ionflow.pipeline.progress`) to show progress, and
at the end collects the answers (:mod:`ionflow.pipeline.results`) for the summary and
the report. A rerun on the same database reuses the stored labels (label cache) and fits
(fit cache); :func:`demo_summary` counts what was computed and what was reused.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from ionflow.errors import IonflowInputError
from ionflow.pipeline.progress import WorkflowProgress, workflow_progress
from ionflow.pipeline.results import WorkflowResults, collect_results
from ionflow.pipeline.spec import WorkflowSpec, load_spec
from ionflow.settings import job_cpus

if TYPE_CHECKING:
    from fireworks import LaunchPad
    from jobflow import JobStore

    from ionflow.settings import IonflowSettings

FULL_SPEC_FILE = "demo_li6ps5cl_chgnet.yaml"
QUICK_SPEC_FILE = "demo_li6ps5cl_chgnet_quick.yaml"
CALLABLE_PATH = "spec._tasks.job.function.@callable"
JOB_UUID_PATH = "spec._tasks.job.uuid"
LAUNCH_LOG = "launch.log"


def demo_spec_path(quick: bool = False) -> Path:
    """The shipped demo spec (``workflows/`` beside the package).

    Raises:
        IonflowInputError: the ``workflows/`` folder is not there (a wheel install).
    """
    import ionflow

    path = Path(ionflow.__file__).resolve().parents[2] / "workflows"
    path /= QUICK_SPEC_FILE if quick else FULL_SPEC_FILE
    if not path.is_file():
        raise IonflowInputError(
            f"demo spec {path.name} not found next to the package; pass --spec "
            "workflows/<file>.yaml from a clone of ionflow"
        )
    return path


def demo_spec(path: Path, oracle: str | None = None) -> WorkflowSpec:
    """Load ``path``; ``oracle`` replaces the spec's labelling engine (checked again).

    Raises:
        IonflowInputError: the spec, or the oracle at the spec's levels, is not valid.
    """
    spec = load_spec(path)
    if oracle is None or oracle == spec.dft.oracle:
        return spec
    data = spec.model_dump(mode="json")
    data["dft"]["oracle"] = oracle
    try:
        return WorkflowSpec.model_validate(data)
    except ValueError as exc:
        first = str(exc).splitlines()[0]
        raise IonflowInputError(f"--oracle {oracle} with {path.name}: {first}") from exc


def ensure_database(settings: IonflowSettings | None = None) -> str | None:
    """Make the database of ``db_uri`` answer: start the embedded server if it is ours.

    Returns:
        A line saying the embedded server was started, or None if the database answered.

    Raises:
        IonflowInputError: a remote database that does not answer, or a server that
            would not start.
    """
    from urllib.parse import urlsplit

    from ionflow.db import server
    from ionflow.db.stores import check_database
    from ionflow.settings import get_settings

    settings = settings or get_settings()
    try:
        check_database(settings)
        return None
    except IonflowInputError:
        target = urlsplit(settings.db_uri)
        if target.hostname not in ("127.0.0.1", "localhost") or target.port is None:
            raise
    status = server.start(settings.data_dir, port=target.port)
    check_database(settings)
    return f"started the embedded database: {status.uri} (data in {settings.data_dir})"


def launcher_command(
    launch_dir: Path,
    slurm: bool = False,
    config_dir: Path | None = None,
    max_jobs: int = 2,
    jobs_per_allocation: int = 4,
    parallel: int = 1,
) -> list[str]:
    """The ``ionflow launch`` command line that runs the demo's queue.

    ``parallel``: jobs run at once on this machine (``--local``).
    """
    command = [sys.executable, "-m", "ionflow", "launch", "--launch-dir", str(launch_dir)]
    if config_dir is not None:
        command += ["--config-dir", str(config_dir)]
    if slurm:
        command += ["--slurm", "--max-jobs", str(max_jobs)]
        command += ["--jobs-per-allocation", str(jobs_per_allocation), "--poll", "2"]
    else:
        command += ["--local", "--parallel", str(parallel)]
    return command


def local_parallel_jobs(most: int = 4) -> int:
    """Jobs the demo runs at once on this machine: its CPUs (at most ``most``)."""
    return max(1, min(most, job_cpus()))


@dataclass
class LauncherProcess:
    """``ionflow launch`` running in a process of its own, all its output in a log file."""

    command: list[str]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None
    _log: TextIO | None = None

    def start(self) -> None:
        """Start the launcher (stdin closed, stdout and stderr to :attr:`log_path`)."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("a")
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        self.process = subprocess.Popen(
            self.command,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
        )

    def running(self) -> bool:
        """True while the launcher runs."""
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout_s: float = 30.0) -> int | None:
        """Wait for it to end (terminate it if it is still running); its exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.close()
        return self.process.returncode

    def tail(self, lines: int = 5) -> str:
        """The last lines of the log (for an error message)."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class DemoSummary:
    """What the demo computed, read back from the database.

    Attributes:
        results: the workflow's answers (``ionflow results``).
        progress: stages with their job counts and times.
        n_configurations: configurations simulated.
        labels_computed: labels the oracle computed in this workflow.
        labels_reused: labels taken from the label cache.
        fits_done: MTP fits run in this workflow.
        fits_reused: fits taken from the fit cache.
        before_energy_rmse_meV_atom: the passive fit's energy RMSE on its validation
            split (the held-out set active learning scores against); None without
            active learning.
        before_force_rmse_eV_A: its force RMSE there.
    """

    results: WorkflowResults
    progress: WorkflowProgress
    n_configurations: int = 0
    labels_computed: int = 0
    labels_reused: int = 0
    fits_done: int = 0
    fits_reused: int = 0
    before_energy_rmse_meV_atom: float | None = None
    before_force_rmse_eV_A: float | None = None


def _final_outputs(store: JobStore, uuids: list[str], fields: list[str]) -> list[dict]:
    """The newest task document of each job (projected on ``fields``), job order kept."""
    newest: dict[str, dict] = {}
    for doc in store.docs_store.query(
        {"uuid": {"$in": uuids}}, properties=["uuid", "index", *fields]
    ):
        if doc["uuid"] not in newest or doc["index"] > newest[doc["uuid"]]["index"]:
            newest[doc["uuid"]] = doc
    return [newest[uuid] for uuid in uuids if uuid in newest]


def _uuids_of(lpad: LaunchPad, nodes: list[int], callable_name: str) -> list[str]:
    fireworks = lpad.fireworks.find(
        {"fw_id": {"$in": nodes}, CALLABLE_PATH: callable_name}, {"fw_id": 1, JOB_UUID_PATH: 1}
    )
    return [
        task["job"]["uuid"]
        for fw in sorted(fireworks, key=lambda f: f["fw_id"])
        for task in fw["spec"]["_tasks"]
    ]


def demo_summary(lpad: LaunchPad, store: JobStore, workflow_id: int) -> DemoSummary:
    """The summary of the workflow holding firework ``workflow_id``."""
    workflow = lpad.workflows.find_one({"nodes": workflow_id}, {"name": 1, "state": 1, "nodes": 1})
    nodes = workflow["nodes"]
    summary = DemoSummary(
        collect_results(lpad, store, workflow), workflow_progress(lpad, workflow_id)
    )
    labels = _final_outputs(
        store,
        _uuids_of(lpad, nodes, "LabelMaker.make"),
        ["output.n_labelled", "output.n_from_cache"],
    )
    for doc in labels:
        reused = doc["output"].get("n_from_cache", 0)
        summary.labels_reused += reused
        summary.labels_computed += doc["output"]["n_labelled"] - reused
    fits = _final_outputs(
        store,
        _uuids_of(lpad, nodes, "MtpFitMaker.make"),
        ["output.reused_from_job", "output.validation_errors"],
    )
    summary.fits_reused = sum(1 for doc in fits if doc["output"].get("reused_from_job"))
    summary.fits_done = len(fits) - summary.fits_reused
    if summary.results.active_learning and fits and fits[0]["output"].get("validation_errors"):
        errors = fits[0]["output"]["validation_errors"]
        summary.before_energy_rmse_meV_atom = 1000 * errors["energy_per_atom"]["rmse"]
        summary.before_force_rmse_eV_A = errors["forces"]["rmse"]
    summary.n_configurations = len(summary.results.configurations)
    return summary
