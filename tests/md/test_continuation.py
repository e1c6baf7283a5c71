"""Checkpoints: a run killed with SIGKILL and continued equals an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from jobflow import JobStore, run_locally
from maggma.stores import MemoryStore

from ionflow.io.lammps_dump import iter_dump_frames
from ionflow.md.continuation import latest_restart, segment_steps, timeout_string
from ionflow.md.jobs.lammps import LammpsMdMaker
from ionflow.md.schemas.protocol import MdProtocol, MdStage
from ionflow.md.segments import SegmentState, next_segment_state
from tests.fixtures.md import MD_MTP_FILE, MD_SPECIES
from tests.md.helpers import run_protocol, write_run

pytestmark = pytest.mark.usefixtures("md_data_dir")  # job attempts -> tmp

KILL_AFTER_STEP = 400


def _protocol() -> MdProtocol:
    """NVT heating then NPT production (dumps), 1000 steps, restarts every 100 steps."""
    return MdProtocol(
        stages=[
            MdStage(
                name="heat",
                ensemble="nvt",
                steps=300,
                temperature_start=200.0,
                temperature_stop=400.0,
            ),
            MdStage(
                name="production",
                ensemble="npt",
                steps=700,
                temperature_start=400.0,
                temperature_stop=400.0,
                dump=True,
            ),
        ],
        timestep_fs=2.0,
        initial_temperature=200.0,
        thermo_every=20,
        dump_every=10,
        restart_every=100,
        seed=4242,
    )


def _kill_mid_run(run_dir: Path) -> int:
    """Run segment 0 in a subprocess and SIGKILL it once a restart past 400 exists."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    code = f"from ionflow.md.segments import run_segment; run_segment({str(run_dir)!r})"
    proc = subprocess.Popen([sys.executable, "-c", code], env=env)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            restart = latest_restart(run_dir)
            if restart and restart[0] >= KILL_AFTER_STEP:
                break
            time.sleep(0.01)
        assert proc.poll() is None, "the run ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    return latest_restart(run_dir)[0]


@pytest.mark.slow
def test_sigkilled_run_continues_without_duplicated_or_missing_frames(tmp_path, li2s_96):
    protocol = _protocol()
    reference = run_protocol(tmp_path / "reference", protocol, li2s_96)
    ref_frames = list(iter_dump_frames(reference.trajectory_file))
    assert [f.timestep for f in ref_frames] == list(range(300, 1001, 10))

    killed = tmp_path / "segment0"
    write_run(killed, protocol, li2s_96)
    restart_step = _kill_mid_run(killed)
    assert KILL_AFTER_STEP <= restart_step < protocol.total_steps
    assert (SegmentState.load(killed).reached_step) is None  # it never finished

    state, _ = next_segment_state(killed)
    assert state.start_step == restart_step and state.segment == 1
    # the continuation is a new jobflow job that only knows the killed directory
    maker = LammpsMdMaker(protocol=protocol, engine="lammps-python", species=MD_SPECIES)
    job = maker.make(li2s_96, str(MD_MTP_FILE), previous_dir=str(killed))
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    responses = run_locally(job, store=store, root_dir=tmp_path / "jobs", create_folders=True)
    doc = responses[job.uuid][1].output
    continued = Path(doc.dir_name)

    frames = list(iter_dump_frames(doc.trajectory_file))
    steps = [f.timestep for f in frames]
    assert steps == [f.timestep for f in ref_frames]  # none duplicated, none missing
    assert doc.n_frames == len(ref_frames) == 71
    assert doc.segment_dirs == [str(killed.resolve()), str(continued)]
    assert continued.parent == tmp_path / "jobs"
    for frame, ref in zip(frames, ref_frames, strict=True):
        if frame.timestep > restart_step:
            break
        np.testing.assert_array_equal(frame.values, ref.values)  # bit-identical
        np.testing.assert_array_equal(frame.cell, ref.cell)
    # after the restart the runs agree closely (same state; only summation order differs)
    after = next(k for k, f in enumerate(frames) if f.timestep == restart_step + 10)
    np.testing.assert_allclose(frames[after].values, ref_frames[after].values, atol=1e-6)
    # thermo covers every step once, from both segments
    assert doc.thermo.step == list(range(0, 1001, 20))
    assert doc.completed_steps == protocol.total_steps


def test_segment_sizing_and_timeout():
    assert segment_steps(3600, 100.0, 5000) == 300000  # (0.85 * 3600 - 60) s * 100 steps/s
    assert segment_steps(10, 1.0, 5000) == 5000  # never less than one checkpoint
    assert timeout_string(3600) == "00:54:00"
    assert timeout_string(90061) == "22:30:54"


@pytest.mark.slow
def test_rerun_of_a_killed_job_continues_from_its_directory(tmp_path, li2s_96, md_data_dir):
    """The same job (same uuid) run again after a SIGKILL resumes, as FireWorks rerun does."""
    protocol = _protocol()
    maker = LammpsMdMaker(protocol=protocol, engine="lammps-python", species=MD_SPECIES)
    job = maker.make(li2s_96, str(MD_MTP_FILE))
    job_file = tmp_path / "job.json"
    job_file.write_text(job.to_json())
    first_root = tmp_path / "attempt1"
    first_root.mkdir()
    code = (
        "from monty.json import MontyDecoder\n"
        "from jobflow import JobStore, run_locally\n"
        "from maggma.stores import MemoryStore\n"
        f"job = MontyDecoder().decode(open({str(job_file)!r}).read())\n"
        "store = JobStore(MemoryStore(), additional_stores={'data': MemoryStore()})\n"
        f"run_locally(job, store=store, root_dir={str(first_root)!r}, create_folders=True)\n"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1", "IONFLOW_DATA_DIR": str(md_data_dir)}
    proc = subprocess.Popen([sys.executable, "-c", code], env=env)
    try:
        deadline = time.monotonic() + 120
        killed_dir = None
        while time.monotonic() < deadline and proc.poll() is None:
            dirs = list(first_root.glob("job_*"))
            restart = latest_restart(dirs[0]) if dirs else None
            if restart and restart[0] >= KILL_AFTER_STEP:
                killed_dir = dirs[0]
                break
            time.sleep(0.01)
        assert proc.poll() is None and killed_dir is not None
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    restart_step = latest_restart(killed_dir)[0]

    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    responses = run_locally(job, store=store, root_dir=tmp_path / "attempt2", create_folders=True)
    doc = responses[job.uuid][1].output
    assert doc.segment_dirs[0] == str(killed_dir.resolve())
    assert len(doc.segment_dirs) == 2
    assert SegmentState.load(doc.dir_name).start_step == restart_step
    steps = [f.timestep for f in iter_dump_frames(doc.trajectory_file)]
    assert steps == list(range(300, 1001, 10))
