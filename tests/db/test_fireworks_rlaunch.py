"""FireWorks unchanged over TCP: `lpad add`, then two concurrent `rlaunch rapidfire`."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from fireworks import Firework, ScriptTask, Workflow

BIN = Path(sys.executable).parent


@pytest.mark.slow
def test_two_rapidfire_workers_run_each_firework_once(launchpad, tmp_path):
    """a -> (b, c): three fireworks, two rlaunch processes, every firework runs once."""
    record = tmp_path / "runs.txt"

    def task(name: str) -> ScriptTask:
        return ScriptTask.from_str(f"echo {name} $PPID >> {record}; sleep 1")

    a = Firework(task("a"), name="a")
    b = Firework(task("b"), name="b", parents=[a])
    c = Firework(task("c"), name="c", parents=[a])
    wf_file = tmp_path / "wf.yaml"
    Workflow([a, b, c], name="three").to_file(str(wf_file))
    lpad_file = tmp_path / "my_launchpad.yaml"
    launchpad.to_file(str(lpad_file))

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run(
        [BIN / "lpad", "-l", lpad_file, "add", wf_file], check=True, capture_output=True, env=env
    )
    ready = [fw["name"] for fw in launchpad.fireworks.find({"state": "READY"}, {"name": 1})]
    assert ready == ["a"]
    workers = []
    for i in range(2):
        work_dir = tmp_path / f"worker{i}"
        work_dir.mkdir()
        cmd = [BIN / "rlaunch", "-l", lpad_file, "-s", "rapidfire", "--nlaunches", "0"]
        cmd += ["--sleep", "1"]
        workers.append(subprocess.Popen(cmd, cwd=work_dir, env=env, stderr=subprocess.PIPE))
    for proc in workers:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()[-2000:]

    states = {
        fw["name"]: fw["state"] for fw in launchpad.fireworks.find({}, {"name": 1, "state": 1})
    }
    assert states == {"a": "COMPLETED", "b": "COMPLETED", "c": "COMPLETED"}
    runs = Counter(line.split()[0] for line in record.read_text().splitlines())
    assert runs == {"a": 1, "b": 1, "c": 1}
    assert launchpad.launches.count_documents({}) == 3
    order = [line.split()[0] for line in record.read_text().splitlines()]
    assert order[0] == "a"  # the dependency held
