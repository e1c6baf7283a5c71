"""`ionflow status` with 1,000 queued jobs on the embedded server (target: <= 2 s).

Run by hand: ``.venv/bin/python benchmarks/status_speed.py``. Starts its own patched
server on a free port in a temporary directory, submits the tiny CHGNet pipeline
(``tests/data/pipeline/tiny_chgnet.yaml``) as many times as it takes to queue at least
:data:`N_JOBS` jobs (READY and WAITING, as a queue on a login node looks; the per-
configuration jobs are added at run time, so a submitted tiny flow holds only a few),
marks 20 jobs RUNNING in SLURM jobs and makes 5 FIZZLED, and prints the median and worst
of 5 timings of

- ``workflow_status``: the queries and the table data, in this process;
- ``ionflow status --json``: the whole command in a new process (Python start-up,
  imports, the database check and the queries), as a user runs it;
- the start-up and the imports of the command alone (settings, FireWorks), for scale.
"""

from __future__ import annotations

import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fireworks import Firework, FWorker, PyTask, Workflow
from fireworks.core.rocket_launcher import launch_rocket
from jobflow.managers.fireworks import flow_to_workflow

from ionflow.db import server
from ionflow.db.stores import get_launchpad
from ionflow.pipeline.flow import PipelineMaker
from ionflow.pipeline.rocket import with_slurm_job_id
from ionflow.pipeline.spec import load_spec
from ionflow.pipeline.status import workflow_status
from ionflow.settings import IonflowSettings

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "tests" / "data" / "pipeline" / "tiny_chgnet.yaml"
N_JOBS = 1000
REPEATS = 5


def timings(func) -> tuple[float, float]:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times), max(times)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        os.symlink(IonflowSettings().data_dir / "db-env", server.env_dir_for(data_dir))
        uri = server.start(data_dir, server.free_port()).uri + "status_bench"
        try:
            settings = IonflowSettings(db_uri=uri, data_dir=data_dir)
            lpad = get_launchpad(settings, strm_lvl="WARNING")
            lpad.reset("", require_password=False)
            spec = load_spec(TINY)
            flow = PipelineMaker.from_spec(spec).make(spec.material)
            start = time.perf_counter()
            n_workflows = math.ceil(N_JOBS / len(flow_to_workflow(flow).fws))
            for _ in range(n_workflows):
                lpad.add_wf(flow_to_workflow(flow))
            n_jobs = lpad.fireworks.count_documents({})
            print(f"submitted {n_jobs} jobs in {time.perf_counter() - start:.1f} s")
            ready = lpad.get_fw_ids({"state": "READY"})
            for index, fw_id in enumerate(ready[:20]):
                worker = with_slurm_job_id(FWorker(), str(1000 + index))
                lpad.checkout_fw(worker, tmp, fw_id=fw_id)
            for index in range(5):
                name = f"fails {index}"
                lpad.add_wf(Workflow([Firework(PyTask(func="math.sqrt", args=[-1]), name=name)]))
                os.chdir(tmp)
                launch_rocket(lpad, FWorker(), fw_id=max(lpad.get_fw_ids({"name": name})))
            statuses = workflow_status(lpad)
            states = {}
            for status in statuses:
                for state, n in status.totals().items():
                    states[state] = states.get(state, 0) + n
            print(f"{len(statuses)} workflows, jobs by state: {states}")
            median, worst = timings(lambda: workflow_status(lpad))
            print(f"workflow_status (in process)     median {median:.3f} s  worst {worst:.3f} s")
            env = {**os.environ, "IONFLOW_DB_URI": uri}
            command = [str(Path(sys.executable).parent / "ionflow"), "status", "--json"]

            def cli() -> None:
                subprocess.run(command, env=env, check=True, capture_output=True)

            median, worst = timings(cli)
            print(f"ionflow status --json (process)  median {median:.3f} s  worst {worst:.3f} s")
            command = [sys.executable, "-c", "import ionflow.settings, fireworks"]
            median, worst = timings(cli)
            print(f"start-up + the command's imports median {median:.3f} s  worst {worst:.3f} s")
            print("target: <= 2 s")
        finally:
            server.stop(data_dir)


if __name__ == "__main__":
    main()
