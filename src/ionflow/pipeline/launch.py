"""Running the queue (``ionflow launch``): rockets on this machine, or SLURM allocations.

``--local`` (:func:`launch_local`): FireWorks rockets one after another in this process
(ionflow's rocket: the worker records a SLURM job id when there is one), until no job is
READY, i.e. everything finished, failed, or waits on a job another launcher is running.

``--slurm`` (:func:`launch_slurm`): a loop that keeps at most ``max_jobs`` of its SLURM
jobs queued or running and submits, each pass, as many allocations as the READY jobs need:

- ``jobs_per_allocation`` K = 1: FireWorks' reservation mode (``qlaunch -r``): each
  allocation reserves one job and runs it with ``singleshot``; the job's own
  ``spec._queueadapter`` (per-stage resources, the memory ``ionflow watch`` doubled)
  applies.
- K > 1: each allocation runs ``rlaunch rapidfire --nlaunches K --timeout B --max_loops 1``
  (the ``rocket_launch`` line of the config's ``my_qadapter.yaml`` with its ``singleshot``
  replaced): it pulls READY jobs one after another, up to K, starts none after the time
  budget B (:data:`BUDGET_FRACTION` of the walltime, so the last one still has the rest),
  and ends as soon as none is READY, so an allocation is never left idle. Allocations
  needed per group: ceil(READY / K), minus the group's allocations still PENDING in SLURM
  or started but not yet running a job (their SLURM id is in no launch yet).

Both run READY jobs per worker group (:mod:`ionflow.pipeline.worker_groups`: category,
worker name, queue resources of the stage): each group as its own worker, so DFT,
fitting and MD jobs with categories run; with K > 1 an allocation asks for its group's
resources and packs only jobs of that group (allocations needed per group; ``max_jobs``
bounds all groups together). READY jobs outside the categories the user's worker is
limited to are left to other launchers, and the final line says so.

The loop ends when no job it may run is READY and none of its SLURM jobs is alive; a job
still RUNNING then (its allocation died) is left to ``ionflow watch``. FireWorks' ``qlaunch
rapidfire -m N`` counts all of the user's SLURM jobs and packs nothing; this loop counts
its own jobs (``squeue`` once per pass) and packs.
"""

from __future__ import annotations

import math
import os
import shlex
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ionflow.cluster.slurm_jobs import jobs_by_state, walltime_seconds
from ionflow.errors import IonflowInputError
from ionflow.pipeline.rocket import SLURM_ENV_KEY, with_slurm_job_id
from ionflow.pipeline.worker_groups import WorkerGroup, left_to_others, ready_groups

if TYPE_CHECKING:
    from fireworks import FWorker, LaunchPad

BUDGET_FRACTION = 0.5
"""Share of an allocation's walltime in which it starts new jobs (K > 1)."""
ACTIVE_STATES = ("READY", "RESERVED", "RUNNING")


@dataclass
class LaunchReport:
    """What a launcher did.

    Attributes:
        rockets: jobs run by this process (``--local``).
        allocations: SLURM job ids submitted (``--slurm``).
        most_alive: most of those SLURM jobs alive at once, as seen by ``squeue``.
        counts: fireworks per state at the end.
        stop_reason: why the loop ended.
    """

    rockets: int = 0
    allocations: list[str] = field(default_factory=list)
    most_alive: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    stop_reason: str = ""


def state_counts(lpad: LaunchPad) -> dict[str, int]:
    """Fireworks per FireWorks state on the LaunchPad (one aggregation)."""
    pipeline = [{"$group": {"_id": "$state", "n": {"$sum": 1}}}]
    return {row["_id"]: row["n"] for row in lpad.fireworks.aggregate(pipeline)}


def stop_reason(counts: dict[str, int]) -> str:
    """Why nothing is left to launch, from the fireworks per state."""
    left = {s: n for s, n in counts.items() if s not in ("COMPLETED", "READY") and n}
    if not left:
        return f"all {counts.get('COMPLETED', 0)} jobs COMPLETED"
    parts = ", ".join(f"{n} {state}" for state, n in sorted(left.items()))
    hint = ""
    if left.get("FIZZLED") or left.get("RUNNING"):
        hint = " (`ionflow status` says why; `ionflow watch` retries and reruns)"
    return f"no job READY: {parts}{hint}"


def use_ionflow_store() -> None:
    """Make jobflow's jobs in this process store their outputs in ionflow's JobStore.

    The store rides out a database outage (:mod:`ionflow.db.outage`): a job whose server
    is restarted while it runs stores its output once the server is back.
    """
    import jobflow

    from ionflow.db.stores import get_jobstore, worker_jobstore

    jobflow.SETTINGS.JOB_STORE = worker_jobstore(get_jobstore())


BUSY_PREFIX = ".busy-"
"""A launcher running a job here holds ``<launch_dir>/.busy-<pid>`` (``--parallel``)."""


def sibling_running(launch_dir: Path) -> bool:
    """True if another live launcher process of ``launch_dir`` is running a job.

    Its job may make others READY, so a parallel launcher waits instead of ending. Marks
    left by a dead process (killed launcher) are ignored.
    """
    for mark in launch_dir.glob(f"{BUSY_PREFIX}*"):
        pid = int(mark.name.removeprefix(BUSY_PREFIX) or 0)
        if pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
        except (ProcessLookupError, ValueError):
            continue
        except PermissionError:  # alive, another user's
            pass
        return True
    return False


def launch_local(
    lpad: LaunchPad,
    fworker: FWorker,
    launch_dir: Path,
    max_rockets: int | None = None,
    on_rocket: Callable[[], None] | None = None,
    wait_for_siblings: bool = False,
    poll_s: float = 1.0,
) -> LaunchReport:
    """Run READY jobs here, one after another, until none is READY.

    Jobs are run group by group (:mod:`ionflow.pipeline.worker_groups`): each as the
    worker of its category and worker name, so jobs with a category run too. A
    ``fworker`` limited to categories runs only jobs of those. Several such launchers
    may share one ``launch_dir`` (``ionflow launch --local --parallel N``): FireWorks
    hands each READY job to one of them, and with ``wait_for_siblings`` a launcher that
    finds nothing READY waits while another one still runs a job.

    Args:
        lpad: the LaunchPad.
        fworker: the user's worker (its query, env and categories select the jobs).
        launch_dir: where each job's ``launcher_*`` folder is made.
        max_rockets: stop after this many jobs (None: no limit).
        on_rocket: called after each job (progress view).
        wait_for_siblings: wait (``poll_s``) while a sibling launcher runs a job.
        poll_s: seconds between two looks for READY jobs while waiting.
    """
    from fireworks.core.rocket_launcher import launch_rocket
    from fireworks.utilities.fw_utilities import create_datestamp_dir, get_fw_logger

    from ionflow.db.stores import worker_launchpad

    logger = get_fw_logger("rocket.launcher", l_dir=lpad.get_logdir(), stream_level="WARNING")
    lpad = worker_launchpad(lpad)  # a job ending while the database restarts still completes
    report = LaunchReport()
    launch_dir = launch_dir.resolve()
    launch_dir.mkdir(parents=True, exist_ok=True)
    here = Path.cwd()
    others: Counter = Counter()

    def next_worker() -> FWorker | None:
        nonlocal others
        runnable, others = ready_groups(lpad, fworker)
        for group, _ in runnable.most_common():
            worker = with_slurm_job_id(group.worker(fworker))
            if lpad.run_exists(worker):
                return worker
        return None

    busy = launch_dir / f"{BUSY_PREFIX}{os.getpid()}"
    try:
        while max_rockets is None or report.rockets < max_rockets:
            worker = next_worker()
            if worker is None:
                if wait_for_siblings and sibling_running(launch_dir):
                    time.sleep(poll_s)
                    continue
                break
            busy.touch()
            folder = create_datestamp_dir(str(launch_dir), logger, prefix="launcher_")
            os.chdir(folder)
            if launch_rocket(lpad, worker, strm_lvl="WARNING"):
                report.rockets += 1
            elif not os.listdir(folder):
                os.rmdir(folder)  # another launcher took the job
            os.chdir(here)
            busy.unlink(missing_ok=True)
            if on_rocket is not None:
                on_rocket()
    finally:
        os.chdir(here)
        busy.unlink(missing_ok=True)
    report.counts = state_counts(lpad)
    report.stop_reason = stop_reason(report.counts) + left_to_others(others)
    return report


def allocation_rocket_launch(rocket_launch: str, jobs: int, budget_s: float) -> str:
    """The ``rocket_launch`` line of an allocation that runs up to ``jobs`` jobs.

    Raises:
        IonflowInputError: the line runs no ``rlaunch`` ``singleshot``/``rapidfire``.
    """
    head, _, _ = _split_mode(rocket_launch)
    return (
        f"{head} rapidfire --nlaunches {jobs} --timeout {max(int(budget_s), 1)} "
        "--max_loops 1 --sleep 1"
    )


def _split_mode(rocket_launch: str) -> tuple[str, str, str]:
    """``(head, " singleshot"|" rapidfire", rest)`` of an rlaunch line."""
    for mode in (" singleshot", " rapidfire"):
        head, found, rest = rocket_launch.partition(mode)
        if found:
            return head, mode, rest
    raise IonflowInputError(
        f"rocket_launch {rocket_launch!r} of my_qadapter.yaml runs no rlaunch singleshot or "
        "rapidfire: write it with `ionflow config init`"
    )


def with_worker_file(rocket_launch: str, worker_file: Path) -> str:
    """The rlaunch line ``rocket_launch`` running as the worker of ``worker_file`` (``-w``)."""
    head, mode, rest = _split_mode(rocket_launch)
    return f"{head} -w {shlex.quote(str(worker_file))}{mode}{rest}"


@dataclass
class SlurmLauncher:
    """Keeps at most ``max_jobs`` SLURM allocations alive, each running up to K jobs.

    Allocations are submitted per :class:`~ionflow.pipeline.worker_groups.WorkerGroup` of
    READY jobs: each runs as that group's worker (``rlaunch -w``), so jobs with a
    category or worker name run, and with K > 1 it asks SLURM for the group's own queue
    resources (the jobs' ``_queueadapter`` over ``my_qadapter.yaml``) and packs only jobs
    of that group. ``max_jobs`` bounds the allocations of all groups together.

    Attributes:
        lpad: the LaunchPad.
        fworker: the user's worker (its query, env and categories select the jobs).
        qadapter: FireWorks queue adapter (``my_qadapter.yaml``).
        launch_dir: where each allocation's ``launcher_*`` folder is made.
        max_jobs: most SLURM jobs of this launcher queued or running at once.
        jobs_per_allocation: K, most jobs one allocation runs.
        poll_s: seconds between passes.
        squeue: the ``squeue`` command.
    """

    lpad: LaunchPad
    fworker: FWorker
    qadapter: object
    launch_dir: Path
    max_jobs: int = 2
    jobs_per_allocation: int = 1
    poll_s: float = 5.0
    squeue: str = "squeue"
    report: LaunchReport = field(default_factory=LaunchReport)
    group_of: dict[str, WorkerGroup] = field(default_factory=dict)
    """Worker group of each allocation submitted (SLURM job id -> group)."""
    others: Counter = field(default_factory=Counter)
    """READY jobs per group left to workers of other categories (last pass)."""

    def __post_init__(self) -> None:
        if self.max_jobs < 1 or self.jobs_per_allocation < 1:
            raise IonflowInputError("--max-jobs and --jobs-per-allocation must be at least 1")
        from ionflow.db.stores import worker_launchpad

        self.lpad = worker_launchpad(self.lpad)  # the loop rides out a database restart
        self.launch_dir = self.launch_dir.resolve()
        if self.jobs_per_allocation > 1:
            from fireworks.utilities.fw_serializers import load_object

            budget_s = self.budget_s(self.qadapter.get("walltime"))
            self.qadapter = load_object(self.qadapter.to_dict())
            self.qadapter["rocket_launch"] = allocation_rocket_launch(
                self.qadapter["rocket_launch"], self.jobs_per_allocation, budget_s
            )

    @staticmethod
    def budget_s(walltime: str | None) -> float:
        """Seconds in which an allocation of ``walltime`` starts new jobs (K > 1)."""
        try:
            return BUDGET_FRACTION * walltime_seconds(walltime)
        except ValueError as exc:
            raise IonflowInputError(f"my_qadapter.yaml walltime: {exc}") from exc

    def started_without_job(self, running: list[str]) -> int:
        """Allocations SLURM runs that have not checked out a job yet."""
        if not running:
            return 0
        path = f"fworker.env.{SLURM_ENV_KEY}"
        working = self.lpad.launches.distinct(path, {path: {"$in": running}})
        return len(set(running) - {str(i) for i in working})

    def wanted(self, ready: int, alive: dict[str, str], room: int | None = None) -> int:
        """New allocations for ``ready`` jobs of one group whose allocations are ``alive``.

        ``room``: allocations still allowed (default: ``max_jobs`` minus ``alive``).
        """
        room = self.max_jobs - len(alive) if room is None else room
        if self.jobs_per_allocation == 1:  # reservation: a pending allocation holds its job
            return max(min(ready, room), 0)
        pending = sum(1 for state in alive.values() if state == "PENDING")
        running = [i for i, state in alive.items() if state != "PENDING"]
        need = math.ceil(ready / self.jobs_per_allocation) - pending
        need -= self.started_without_job(running)
        return max(min(need, room), 0)

    def plan(self, runnable: Counter, alive: dict[str, str]) -> list[WorkerGroup]:
        """Allocations to submit this pass, one entry per allocation, within ``max_jobs``.

        Groups with fewer allocations alive come first (then those with more READY jobs),
        so no group waits for another's backlog while ``max_jobs`` is the limit.
        """
        room = self.max_jobs - len(alive)
        planned: list[WorkerGroup] = []
        alive_of = {
            group: {i: state for i, state in alive.items() if self.group_of.get(i) == group}
            for group in runnable
        }
        order = sorted(runnable.items(), key=lambda item: (len(alive_of[item[0]]), -item[1]))
        for group, ready in order:
            mine = alive_of[group]
            need = self.wanted(ready, mine, room)
            planned += [group] * need
            room -= need
        return planned

    def group_qadapter(self, group: WorkerGroup) -> object:
        """The queue adapter of one allocation of ``group``: its worker, its resources."""
        from fireworks.utilities.fw_serializers import load_object

        qadapter = load_object(self.qadapter.to_dict())
        worker_file = group.write_worker(self.fworker, self.launch_dir / "workers")
        line = with_worker_file(qadapter["rocket_launch"], worker_file)
        if self.jobs_per_allocation > 1:  # rapidfire: FireWorks applies no job's resources
            qadapter.update(dict(group.queueadapter))
            budget_s = self.budget_s(qadapter.get("walltime"))
            line = allocation_rocket_launch(line, self.jobs_per_allocation, budget_s)
        qadapter["rocket_launch"] = line
        return qadapter

    def submit(self, group: WorkerGroup | None = None) -> str | None:
        """Submit one allocation for ``group`` (FireWorks' qlaunch); its SLURM id or None.

        ``group`` None: as the user's worker with ``my_qadapter.yaml`` unchanged.
        """
        from fireworks.queue.queue_launcher import launch_rocket_to_queue

        worker = self.fworker if group is None else group.worker(self.fworker)
        qadapter = self.qadapter if group is None else self.group_qadapter(group)
        job_id = launch_rocket_to_queue(
            self.lpad,
            worker,
            qadapter,
            str(self.launch_dir),
            reserve=self.jobs_per_allocation == 1,
            strm_lvl="WARNING",
            create_launcher_dir=True,
        )
        if not job_id:
            return None
        self.report.allocations.append(str(job_id))
        if group is not None:
            self.group_of[str(job_id)] = group
        return str(job_id)

    def step(self) -> tuple[bool, dict[str, int], dict[str, str]]:
        """One pass: submit what is needed; return (go on?, fireworks per state, alive)."""
        alive = jobs_by_state(self.report.allocations, self.squeue)
        counts = state_counts(self.lpad)
        if alive is None:  # SLURM did not answer: submit nothing this pass
            return True, counts, {}
        self.report.most_alive = max(self.report.most_alive, len(alive))
        runnable, self.others = ready_groups(self.lpad, self.fworker)
        if not runnable and not alive:
            return False, counts, alive
        for group in self.plan(runnable, alive):
            job_id = self.submit(group)
            if job_id is not None:
                alive[job_id] = "PENDING"
        self.report.most_alive = max(self.report.most_alive, len(alive))
        return True, counts, alive

    def run(
        self,
        on_pass: Callable[[dict[str, int], dict[str, str]], None] | None = None,
        max_passes: int | None = None,
    ) -> LaunchReport:
        """Pass after pass until no job is READY and no allocation is alive."""
        self.launch_dir.mkdir(parents=True, exist_ok=True)
        passes = 0
        while True:
            go_on, counts, alive = self.step()
            passes += 1
            if on_pass is not None:
                on_pass(counts, alive)
            if not go_on or (max_passes is not None and passes >= max_passes):
                break
            time.sleep(self.poll_s)
        self.report.counts = counts
        self.report.stop_reason = stop_reason(counts) + left_to_others(self.others)
        return self.report
