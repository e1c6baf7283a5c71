"""report.html of a stored tiny run: time, peak memory and data read (collector + page).

Run by hand: ``.venv/bin/python benchmarks/report_speed.py [--db-uri URI] [--src DIR]``.
Without ``--db-uri`` it starts its own server in a temporary directory and stores the
tiny CHGNet pipeline there first (``ionflow run tests/data/pipeline/tiny_chgnet.yaml``,
a few minutes). Each measurement runs in a fresh process (``--src``: the ``src`` folder
whose ionflow it imports, e.g. an older checkout, to compare before and after) and prints,
median of 3: the time to read the workflow's outputs (``collect_workflow_documents``), the
time to write the page, the process's peak resident memory, and the size of what was read
(the documents as JSON).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "tests" / "data" / "pipeline" / "tiny_chgnet.yaml"
REPEATS = 3
CHILD = """
import json, resource, sys, tempfile, time
from dataclasses import asdict
from pathlib import Path
from ionflow.db.stores import get_jobstore
from ionflow.pipeline import html_report as h
store = get_jobstore()
store.connect()
t0 = time.perf_counter()
docs = h.collect_workflow_documents(store, h.resolve_flow_uuid(store, None))
t1 = time.perf_counter()
with tempfile.TemporaryDirectory() as out:
    page = h.write_report_html(docs, Path(out))
    size = page.stat().st_size
t2 = time.perf_counter()
read = {k: v for k, v in vars(docs).items() if k != "report"}
print(json.dumps({
    "collect_s": t1 - t0, "page_s": t2 - t1, "page_bytes": size,
    "read_bytes": len(json.dumps(read, default=str)),
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "module": h.__file__,
}))
"""


def measure(uri: str, src: Path) -> dict[str, float]:
    """Median of :data:`REPEATS` fresh processes running :data:`CHILD`."""
    env = {**os.environ, "IONFLOW_DB_URI": uri, "PYTHONPATH": str(src), "OMP_NUM_THREADS": "1"}
    runs = []
    for _ in range(REPEATS):
        out = subprocess.run(
            [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, check=True
        )
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"ionflow from {runs[0]['module']}")
    return {key: statistics.median(run[key] for run in runs) for key in runs[0] if key != "module"}


def store_tiny_run(uri: str, work_dir: Path) -> None:
    """Run the tiny pipeline into the database of ``uri``."""
    env = {**os.environ, "IONFLOW_DB_URI": uri, "OMP_NUM_THREADS": "1"}
    command = [str(Path(sys.executable).parent / "ionflow"), "run", str(TINY)]
    subprocess.run([*command, "--out", str(work_dir / "run")], env=env, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db-uri", help="database holding a finished tiny run")
    parser.add_argument("--src", type=Path, default=REPO / "src", help="ionflow source")
    args = parser.parse_args()
    if args.db_uri:
        result = measure(args.db_uri, args.src)
    else:
        from ionflow.db import server
        from ionflow.settings import IonflowSettings

        with tempfile.TemporaryDirectory() as tmp:
            data_dir = Path(tmp)
            os.symlink(IonflowSettings().data_dir / "db-env", server.env_dir_for(data_dir))
            uri = server.start(data_dir, server.free_port()).uri + "report_bench"
            try:
                store_tiny_run(uri, data_dir)
                result = measure(uri, args.src)
            finally:
                server.stop(data_dir)
    print(
        f"read outputs {result['collect_s']:.2f} s, page {result['page_s']:.2f} s, "
        f"peak RSS {result['peak_rss_mb']:.0f} MB, read {result['read_bytes'] / 1e6:.2f} MB "
        f"of documents, page {result['page_bytes'] / 1e6:.2f} MB (median of {REPEATS})"
    )


if __name__ == "__main__":
    main()
