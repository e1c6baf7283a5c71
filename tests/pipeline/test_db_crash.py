"""Kill -9 of the database server in the middle of `ionflow launch`, then a restart.

The smallest flow that shows it: a chain of jobflow jobs, each a few seconds long with a
GridFS blob in its output, run by `ionflow launch --local` in a subprocess against an
embedded server of the test's own (the session's server is shared by other tests). The
server is killed with SIGKILL while a job runs and restarted on the same port and data
directory: everything stored before the kill is still there; the job that ends while the
server is down waits for it (ionflow.db.outage) and stores its output, and the same
`ionflow launch` completes the flow with one output and one launch per job, without
`ionflow resume`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from jobflow import Flow, job

pytestmark = pytest.mark.slow

BIN_DIR = Path(sys.executable).parent
N_JOBS = 5
STEP_S = 3.0
COLLECTIONS = ("workflows", "fireworks", "launches", "outputs", "outputs_blobs.files")


@job(data="trace")
def crash_step(x: int, delay_s: float) -> dict:
    """One step of the chain: wait, then return x + 1 and a blob for the data store."""
    time.sleep(delay_s)
    return {"x": x + 1, "trace": "ionflow " * 2000}


def _counts(db) -> dict[str, int]:
    return {name: db[name].count_documents({}) for name in COLLECTIONS}


def _wait(condition, timeout_s: float, what: str) -> None:
    t0 = time.monotonic()
    while not condition():
        if time.monotonic() - t0 > timeout_s:
            pytest.fail(f"{what} not within {timeout_s} s")
        time.sleep(0.2)


def test_launch_survives_a_killed_database_server(tmp_path):
    import pymongo
    from jobflow.managers.fireworks import flow_to_workflow
    from tests.fixtures.db import db_env_dir

    from ionflow.db import server
    from ionflow.db.stores import get_launchpad
    from ionflow.pipeline.submit import add_workflow
    from ionflow.settings import IonflowSettings

    data_dir, port = tmp_path / "db", server.free_port()
    uri = server.start(data_dir, port=port, env_dir=db_env_dir()).uri
    db_uri = f"{uri}crash"
    try:
        settings = IonflowSettings(db_uri=db_uri, data_dir=tmp_path / "data")
        lpad = get_launchpad(settings, strm_lvl="WARNING")
        steps = [crash_step(0, STEP_S)]
        for _ in range(N_JOBS - 1):
            steps.append(crash_step(steps[-1].output["x"], STEP_S))
        add_workflow(lpad, flow_to_workflow(Flow(steps, name="crash")))

        here = Path(__file__).resolve()
        env = {
            **os.environ,
            "IONFLOW_DB_URI": db_uri,
            # the rocket imports this module's job function, by either of its names
            "PYTHONPATH": os.pathsep.join(
                [os.environ.get("PYTHONPATH", ""), str(here.parents[2]), str(here.parent)]
            ),
        }
        command = [str(BIN_DIR / "ionflow"), "launch", "--local"]
        command += ["--launch-dir", str(tmp_path / "runs")]
        launcher = subprocess.Popen(
            command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        client = pymongo.MongoClient(db_uri, serverSelectionTimeoutMS=20000)
        db = client.get_default_database()
        _wait(
            lambda: (
                db.fireworks.count_documents({"state": "COMPLETED"}) >= 2
                and db.fireworks.count_documents({"state": "RUNNING"}) == 1
            ),
            120,
            "two jobs done and the third running",
        )
        before = _counts(db)
        stored = {
            name: sorted(str(d["_id"]) for d in db[name].find({}, {"_id": 1}))
            for name in COLLECTIONS
        }
        os.kill(server.status(data_dir).pid, signal.SIGKILL)  # mid-job
        time.sleep(STEP_S)  # the job ends while the server is down
        restarted = server.start(data_dir, port=port, env_dir=db_env_dir())
        assert restarted.running and not restarted.already_running

        output, _ = launcher.communicate(timeout=300)
        after = _counts(db)
        print(f"before kill {before}; after {after}\n{output[-1500:]}")
        for name in COLLECTIONS:  # nothing stored before the kill was lost
            ids = {str(d["_id"]) for d in db[name].find({}, {"_id": 1})}
            assert set(stored[name]) <= ids, name
        # the job that ended while the server was down waited for it (ionflow.db.outage)
        # and stored its output: the launcher itself finished the flow, nothing failed,
        # nothing was resumed, every job ran once
        assert launcher.returncode == 0, output[-1500:]
        assert f"all {N_JOBS} jobs COMPLETED" in output
        assert "database unreachable" in output
        assert db.ionflow_resume_log.count_documents({}) == 0
        assert db.launches.count_documents({"state": "COMPLETED"}) == N_JOBS
        assert after["launches"] == N_JOBS  # no job ran twice
        assert db.fireworks.count_documents({"state": "COMPLETED"}) == N_JOBS
        assert after["fireworks"] == before["fireworks"] == N_JOBS
        assert after["workflows"] == 1 and db.workflows.find_one()["state"] == "COMPLETED"
        assert after["outputs"] == N_JOBS  # one output per job, none twice
        assert after["outputs_blobs.files"] == N_JOBS
        last = db.outputs.find_one({"uuid": steps[-1].uuid})
        assert last["output"]["x"] == N_JOBS
        client.close()
    finally:
        server.stop(data_dir)
