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

pytestmark = pytest.mark.usefixtures("md_data_dir")  # MD must write nothing there
BIN = Path(sys.executable).parent

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


def _launch(lpad_file: Path, work_dir: Path, env: dict) -> subprocess.Popen:
    """Start ``rlaunch singleshot`` in ``work_dir``, in its own process group."""
    work_dir.mkdir()
    return subprocess.Popen(
        [BIN / "rlaunch", "-l", lpad_file, "singleshot"],
        cwd=work_dir,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


@pytest.mark.slow
def test_killed_firework_rerun_continues_from_its_previous_launch(
    launchpad, jobstore, db_settings, tmp_path, li2s_96
):
    """SIGKILL an MD firework after a restart file; its rerun continues from that restart.

    Real FireWorks (``rlaunch`` on the embedded database), the node "dies" (the whole
    process group is killed), ``resume_pass`` finds the lost run and reruns it; the rerun
    finds the killed launch's folder in the firework's launch history.
    """
    from jobflow.managers.fireworks import flow_to_workflow

    from ionflow.pipeline.resume import ResumePolicy, resume_pass

    protocol = _protocol()
    maker = LammpsMdMaker(protocol=protocol, engine="lammps-python", species=MD_SPECIES)
    md_job = maker.make(li2s_96, str(MD_MTP_FILE))
    launchpad.add_wf(flow_to_workflow(md_job, store=jobstore))
    (fw_id,) = launchpad.get_fw_ids()
    lpad_file = tmp_path / "my_launchpad.yaml"
    launchpad.to_file(str(lpad_file))
    data_dir = db_settings.data_dir
    env = {**os.environ, "OMP_NUM_THREADS": "1", "IONFLOW_DATA_DIR": str(data_dir)}

    first = _launch(lpad_file, tmp_path / "node1", env)
    try:
        deadline = time.monotonic() + 180
        restart = None
        while time.monotonic() < deadline and first.poll() is None:
            restart = latest_restart(tmp_path / "node1")
            if restart and restart[0] >= KILL_AFTER_STEP:
                break
            time.sleep(0.01)
        assert first.poll() is None, first.stderr.read().decode()[-2000:]
        os.killpg(first.pid, signal.SIGKILL)  # the node died: no FIZZLED, no more pings
    finally:
        first.kill()
        first.wait()
    restart_step = latest_restart(tmp_path / "node1")[0]
    assert KILL_AFTER_STEP <= restart_step < protocol.total_steps
    assert launchpad.get_fw_dict_by_id(fw_id)["state"] == "RUNNING"

    time.sleep(1.5)
    report = resume_pass(launchpad, ResumePolicy(lost_after_s=1.0))
    assert report.rerun == [fw_id]
    second = _launch(lpad_file, tmp_path / "node2", env)
    _, err = second.communicate(timeout=300)
    assert second.returncode == 0, err.decode()[-2000:]
    assert launchpad.get_fw_dict_by_id(fw_id)["state"] == "COMPLETED"

    launches = list(launchpad.launches.find({"fw_id": fw_id}).sort("launch_id", 1))
    assert [Path(launch["launch_dir"]).name for launch in launches] == ["node1", "node2"]
    doc = jobstore.get_output(md_job.uuid, load=True)
    killed, continued = (tmp_path / "node1").resolve(), (tmp_path / "node2").resolve()
    assert doc["segment_dirs"] == [str(killed), str(continued)]
    assert SegmentState.load(continued).start_step == restart_step
    steps = [f.timestep for f in iter_dump_frames(doc["trajectory_file"])]
    assert steps == list(range(300, 1001, 10))  # none lost, none duplicated
    assert doc["thermo"]["step"] == list(range(0, 1001, 20))
    assert doc["completed_steps"] == protocol.total_steps
    assert not data_dir.exists() or not any(data_dir.rglob("*"))  # no side files


def test_interrupted_launch_is_read_from_the_launch_history(tmp_path):
    """FW.json of the new launch names the killed one; a completed launch is not continued."""
    import json

    from ionflow.md.jobs.lammps import interrupted_launch_dir
    from ionflow.md.segments import STATE_FILE

    killed, empty, current = (tmp_path / name for name in ("killed", "empty", "current"))
    for folder in (killed, empty, current):
        folder.mkdir()
    (killed / STATE_FILE).write_text("{}")
    (killed / "start.restart.0").write_bytes(b"")  # the restart it started from

    def history(*launches: tuple[Path, str]) -> None:
        entries = [
            {"launch_id": k + 1, "launch_dir": str(d), "state": s}
            for k, (d, s) in enumerate(launches)
        ]
        record = {"fw_id": 7, "archived_launches": entries[:-1], "launches": entries[-1:]}
        (current / "FW.json").write_text(json.dumps(record))

    assert interrupted_launch_dir(current) is None  # no FW.json: not FireWorks
    history((killed, "FIZZLED"), (current, "RUNNING"))
    assert interrupted_launch_dir(current) == killed
    # killed again before it wrote anything: the older launch is still the one to continue
    history((killed, "FIZZLED"), (empty, "FIZZLED"), (current, "RUNNING"))
    assert interrupted_launch_dir(current) == killed
    history((killed, "COMPLETED"), (current, "RUNNING"))  # rerun on purpose: start again
    assert interrupted_launch_dir(current) is None
