"""A motep fit shared by worker processes (ionflow.mtp.pipe_comm) fits like one process.

Real motep, real worker processes (spawn), the CHGNet-labelled Li2S set of
tests/fixtures/mtp.py. Workers are found as this process's children running
``multiprocessing.spawn`` (the resource tracker multiprocessing keeps is not a worker).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import psutil
import pytest

from ionflow.errors import EngineKilledError
from ionflow.mtp.pipe_comm import FitWorkerError

WEIGHTS = (100.0, 1.0, 0.0)
# BFGS amplifies the rounding of a different summation order as it goes: after 12
# iterations losses agree to ~1e-10 (60 iterations: ~4e-7)
ITERATIONS = 12
SUMMATION_RTOL = 1e-8


def _untrained(tmp_path, images):
    from ionflow.mtp import motep_api
    from ionflow.mtp.fitting import min_interatomic_distance
    from ionflow.mtp.templates import untrained_mtp_text

    min_dist = round(min_interatomic_distance(images) * 0.95, 3)
    path = tmp_path / "initial.mtp"
    path.write_text(untrained_mtp_text(8, 2, min_dist, 5.0, 8))
    return motep_api.read_potential(path, ["Li", "S"])


def _workers(pid: int | None = None) -> list[psutil.Process]:
    """Worker processes (spawned children) of ``pid`` (default: this process)."""
    children = psutil.Process(pid).children(recursive=True)
    out = []
    for child in children:
        try:
            if "spawn_main" in " ".join(child.cmdline()):
                out.append(child)
        except psutil.NoSuchProcess:
            pass
    return out


def _fit(tmp_path, images, processes, warm_from=None, max_iter=ITERATIONS):
    from ionflow.mtp import motep_api

    data = _untrained(tmp_path, images)
    if warm_from is not None:
        data.optimized = warm_from.optimized
        data.species_coeffs = warm_from.species_coeffs.copy()
        data.moment_coeffs = warm_from.moment_coeffs.copy()
        data.radial_coeffs = warm_from.radial_coeffs.copy()
    log = motep_api.train(
        data, images, WEIGHTS, max_iter, 0, warm=warm_from is not None, plateau_rel_tol=0.0,
        processes=processes,
    )  # fmt: skip
    return log, data


def _assert_same_fit(one, two):
    (log1, data1), (log2, data2) = one, two
    assert log1.processes == 1 and log2.processes == 2
    assert len(log1.loss) == len(log2.loss) == ITERATIONS + 1
    np.testing.assert_allclose(log2.loss, log1.loss, rtol=SUMMATION_RTOL)
    for name in ("species_coeffs", "moment_coeffs", "radial_coeffs"):
        a, b = getattr(data1, name), getattr(data2, name)
        np.testing.assert_allclose(b, a, rtol=SUMMATION_RTOL, atol=SUMMATION_RTOL * np.abs(a).max())
    assert log1.loss[-1] < 0.5 * log1.loss[0]  # the fit did fit


def test_two_processes_fit_like_one(li2s_labelled, tmp_path):
    one = _fit(tmp_path, li2s_labelled, processes=1)
    two = _fit(tmp_path, li2s_labelled, processes=2)
    _assert_same_fit(one, two)
    assert _workers() == []  # the worker ended with the fit


def test_warm_start_on_two_processes(li2s_labelled, tmp_path):
    _, first = _fit(tmp_path, li2s_labelled[:20], processes=2)
    one = _fit(tmp_path, li2s_labelled, processes=1, warm_from=first)
    two = _fit(tmp_path, li2s_labelled, processes=2, warm_from=first)
    _assert_same_fit(one, two)
    # a warm start begins far below a fresh one (the coefficients were kept)
    fresh, _ = _fit(tmp_path, li2s_labelled, processes=2, max_iter=1)
    assert two[0].loss[0] < 0.5 * fresh.loss[0]


def test_processes_are_capped_by_the_configurations(li2s_labelled, tmp_path):
    log, _ = _fit(tmp_path, li2s_labelled[:2], processes=8, max_iter=2)
    assert log.processes == 2


def test_a_worker_that_raises_ends_the_fit_with_its_error(li2s_labelled, tmp_path):
    from ase import Atoms
    from ase.calculators.singlepoint import SinglePointCalculator

    bad = li2s_labelled[1].copy()  # configuration 1: evaluated by rank 1 of 2 only
    bad.numbers[0] = 9  # fluorine: not a species of the Li-S potential
    bad.calc = SinglePointCalculator(bad, **li2s_labelled[1].calc.results)
    images: list[Atoms] = [li2s_labelled[0], bad, *li2s_labelled[2:6]]
    start = time.perf_counter()
    with pytest.raises(
        FitWorkerError, match="fit process 1 of 2 failed: ValueError: The number of species"
    ) as raised:
        _fit(tmp_path, images, processes=2)
    assert "traceback in fit process 1 of 2" in "".join(raised.value.__notes__)
    assert time.perf_counter() - start < 20
    assert _workers() == []


def test_a_killed_worker_ends_the_fit(li2s_labelled, tmp_path):
    def kill_first_worker() -> None:
        for _ in range(400):
            if workers := _workers():
                time.sleep(1.0)  # let it get into the fit
                workers[0].kill()
                return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_first_worker)
    killer.start()
    with pytest.raises(EngineKilledError, match="fit process 1 of 2 was killed by signal 9"):
        _fit(tmp_path, li2s_labelled, processes=2, max_iter=10_000)
    killer.join()
    assert _workers() == []


KILLED_FIT = textwrap.dedent(
    """
    import sys
    from ionflow.io.mlip_cfg import read_labelled_cfg
    from ionflow.mtp import motep_api

    if __name__ == "__main__":
        images = read_labelled_cfg(sys.argv[1], ["Li", "S"])
        data = motep_api.read_potential(sys.argv[2], ["Li", "S"])
        print("fitting", flush=True)
        motep_api.train(data, images, (100.0, 1.0, 0.0), 100_000, 0, warm=False,
                        plateau_rel_tol=0.0, processes=2)
    """
)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_workers_die_with_a_killed_job(li2s_labelled, li2s_labelled_cfg, tmp_path, sig):
    _untrained(tmp_path, li2s_labelled)  # writes tmp_path / "initial.mtp"
    (tmp_path / "set.cfg").write_text(li2s_labelled_cfg)
    (tmp_path / "fit.py").write_text(KILLED_FIT)
    job = subprocess.Popen(
        [sys.executable, str(tmp_path / "fit.py"), str(tmp_path / "set.cfg"),
         str(tmp_path / "initial.mtp")],
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not (workers := _workers(job.pid)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert workers, "the fit started no worker"
        time.sleep(2.0)  # the worker is in the fit, serving rank 0
        job.send_signal(sig)  # walltime (TERM) or out of memory (KILL): no cleanup in rank 0
        job.wait(30)
        _, alive = psutil.wait_procs(workers, timeout=10)
        assert alive == []
    finally:
        job.kill()


def test_mpi_ranks_are_used_instead_of_new_workers(li2s_labelled, tmp_path, monkeypatch):
    """Under mpirun (motep's world has several ranks) the fit runs on those ranks."""
    import motep.parallel

    from ionflow.mtp import motep_api, pipe_comm

    one = _fit(tmp_path, li2s_labelled, processes=1)
    # a 2-rank world whose rank 1 is a worker process: what mpirun -n 2 gives motep
    with pipe_comm.worker_processes(2, motep_api._fit_worker) as world:
        monkeypatch.setattr(motep.parallel, "world", world)
        assert motep_api.mpi_world() is world
        two = _fit(tmp_path, li2s_labelled, processes=1)  # the setting is not used
        assert len(_workers()) == 1  # no worker of its own
    _assert_same_fit(one, two)


def test_fit_processes_setting_from_the_environment(monkeypatch):
    from ionflow.settings import ConfigError, load_settings

    assert load_settings().fit_processes is None  # default: job_cpus()
    monkeypatch.setenv("IONFLOW_FIT_PROCESSES", "3")
    assert load_settings().fit_processes == 3
    monkeypatch.setenv("IONFLOW_FIT_PROCESSES", "0")
    with pytest.raises(ConfigError, match="fit_processes"):
        load_settings()


def test_job_cpus_reads_slurm_within_the_affinity(monkeypatch):
    from ionflow.settings import job_cpus

    allowed = len(os.sched_getaffinity(0))
    for name in ("SLURM_CPUS_PER_TASK", "SLURM_NTASKS"):
        monkeypatch.delenv(name, raising=False)
    assert job_cpus() == allowed
    monkeypatch.setenv("SLURM_NTASKS", "1")
    assert job_cpus() == 1
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "64")  # more than this machine lets us use
    assert job_cpus() == allowed
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(128)))
    assert job_cpus() == 64
    monkeypatch.setenv("SLURM_NTASKS", "2")
    assert job_cpus() == 128


def test_motep_engine_fits_on_the_setting_s_processes(li2s_labelled_set, monkeypatch):
    from ionflow.mtp.fitting import fit_mtp

    documents = {}
    for processes in ("1", "2"):
        monkeypatch.setenv("IONFLOW_FIT_PROCESSES", processes)
        monkeypatch.setattr("ionflow.settings.SETTINGS_CACHE", {})
        documents[processes] = fit_mtp(li2s_labelled_set, max_iter=5, engine="motep")
    assert [d.fit_processes for d in documents.values()] == [1, 2]
    errors = [d.train_errors.forces.rmse for d in documents.values()]
    assert errors[1] == pytest.approx(errors[0], rel=1e-6)


def _collectives(comm) -> dict:
    """What one rank sees of every operation of PipeComm (run on all ranks)."""
    seen = {
        "bcast_from_2": comm.bcast({"root": comm.rank} if comm.rank == 2 else None, root=2),
        "allgather": comm.allgather(10 * comm.rank),
        "allreduce": comm.allreduce(np.full(2, comm.rank + 1.0)).tolist(),
    }
    summed = np.zeros(2)
    comm.Allreduce(np.full(2, float(comm.rank)), summed)
    seen["Allreduce"] = summed.tolist()
    comm.barrier()
    if comm.rank == 0:  # tags arrive 7, then 5; taken 5 first (the other waits)
        seen["recv"] = [(comm.recv(source=r, tag=5), comm.recv(source=r, tag=7)) for r in (1, 2)]
    else:
        comm.send(f"{comm.rank}:7", dest=0, tag=7)
        comm.send(f"{comm.rank}:5", dest=0, tag=5)
    return seen


def _collectives_worker(comm) -> None:
    comm.gather(_collectives(comm), root=0)


def test_pipe_comm_does_what_motep_may_call_on_three_ranks():
    from ionflow.mtp.pipe_comm import worker_processes

    with worker_processes(3, _collectives_worker) as comm:
        mine = _collectives(comm)
        everyone = comm.gather(mine, root=0)
    for rank, seen in enumerate(everyone):
        assert seen["bcast_from_2"] == {"root": 2}
        assert seen["allgather"] == [0, 10, 20]
        assert seen["allreduce"] == [6.0, 6.0] and seen["Allreduce"] == [3.0, 3.0]
        assert ("recv" in seen) == (rank == 0)
    assert mine["recv"] == [("1:5", "1:7"), ("2:5", "2:7")]
    assert _workers() == []


def test_a_daemonic_process_fits_alone(li2s_labelled, tmp_path, monkeypatch):
    """multiprocessing forbids a daemonic process children: the fit runs in it alone."""
    import multiprocessing

    monkeypatch.setitem(multiprocessing.current_process()._config, "daemon", True)
    log, _ = _fit(tmp_path, li2s_labelled[:6], processes=2, max_iter=2)
    assert log.processes == 1


def test_an_error_in_rank_0_ends_the_workers(li2s_labelled, tmp_path):
    """A timeout or any exception raised in the fitting process mid-fit leaves no worker."""
    from ionflow.mtp import motep_api

    def time_is_up(iteration, parameters):
        if iteration == 3:
            raise TimeoutError("walltime reached")

    data = _untrained(tmp_path, li2s_labelled)
    with pytest.raises(TimeoutError, match="walltime reached"):
        motep_api.train(
            data, li2s_labelled, WEIGHTS, 100, 0, warm=False, plateau_rel_tol=0.0,
            on_iteration=time_is_up, processes=2,
        )  # fmt: skip
    assert _workers() == []
