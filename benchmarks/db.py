"""Embedded database: start time, document and GridFS throughput, FireWorks checkouts.

Run by hand: ``.venv/bin/python benchmarks/db.py``. Starts its own patched server on a
free port in a temporary directory and stops it at the end.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import gridfs
import pymongo
from fireworks import Firework, FWorker, LaunchPad, ScriptTask, Workflow

from ionflow.db import server
from ionflow.settings import IonflowSettings


def timed(label: str, func, n: int | None = None):
    t0 = time.perf_counter()
    result = func()
    dt = time.perf_counter() - t0
    rate = f"  ({n / dt:8.0f} /s)" if n else ""
    print(f"{label:<44s} {dt:8.3f} s{rate}")
    return result


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        os.symlink(IonflowSettings().data_dir / "db-env", server.env_dir_for(data_dir))
        status = timed(
            "start server (env installed)", lambda: server.start(data_dir, server.free_port())
        )
        client = pymongo.MongoClient(status.uri)
        col = client.bench.docs
        n = 2000
        timed(
            f"insert_one x {n}",
            lambda: [col.insert_one({"i": i, "s": "x" * 100}) for i in range(n)],
            n,
        )
        timed(
            f"insert_many {n}",
            lambda: col.insert_many([{"i": i, "k": i % 10} for i in range(n)]),
            n,
        )
        col.create_index("i")
        timed(
            "find_one by indexed field x 500",
            lambda: [col.find_one({"i": i}) for i in range(500)],
            500,
        )
        timed("find all (4000 docs)", lambda: list(col.find({})), 4000)
        fs = gridfs.GridFS(client.bench)
        blob = os.urandom(20 * 1024**2)
        file_id = timed("GridFS put 20 MB", lambda: fs.put(blob))
        data = timed("GridFS get 20 MB", lambda: fs.get(file_id).read())
        assert data == blob

        lpad = LaunchPad(host=status.uri, name="fw", uri_mode=True)
        lpad.reset("", require_password=False)
        n_fw = 50
        fws = [Firework(ScriptTask.from_str("true"), name=f"fw{i}") for i in range(n_fw)]
        timed(f"LaunchPad.add_wf ({n_fw} fireworks)", lambda: lpad.add_wf(Workflow(fws)))

        def checkout_all() -> int:
            count = 0
            while lpad.checkout_fw(FWorker(), tmp)[0] is not None:
                count += 1
            return count

        got = timed(f"checkout_fw x {n_fw}", checkout_all, n_fw)
        assert got == n_fw
        client.close()
        lpad.connection.close()
        size = server.status(data_dir).db_size_mb
        print(f"{'database files on disk':<44s} {size:8.1f} MB")
        timed("stop server", lambda: server.stop(data_dir))


if __name__ == "__main__":
    main()
