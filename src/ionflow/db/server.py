"""The embedded MongoDB wire-protocol server: install, start, stop, status.

The server is nx-27017 (SQLite behind the MongoDB wire protocol) with ionflow's fixes
(:mod:`ionflow.db.nx_patched`). nx-27017 needs a newer pymongo than atomate2 allows, so
it lives in its own small virtual environment, ``<data_dir>/db-env``. Everything the
server writes stays in the data directory on local disk::

    <data_dir>/db-env/            virtual environment with the pinned server packages
    <data_dir>/db/<name>.db       one SQLite file (WAL journal) per logical database
    <data_dir>/nx-27017.pid       pid of the running server
    <data_dir>/nx-27017.json      port and options of the running server
    <data_dir>/nx-27017.log       server log (plus ``nx-27017.out`` for its stdout/stderr)

Durability: every write is one SQLite statement in autocommit mode, committed to the
WAL journal before the server answers it, with ``synchronous = NORMAL``. A write the
server acknowledged therefore survives ``kill -9`` of the server (the journal is in the
operating system's page cache and is replayed at the next start; ``tests/db/
test_outage.py`` counts them); only a crash of the machine itself (power loss, kernel
panic) can lose the last acknowledged writes. A write in flight when the server dies is
unacknowledged: workers try it again (:mod:`ionflow.db.outage`).

The server listens on 127.0.0.1 only. Users with a real MongoDB never start it: they
set ``db_uri`` instead (see :mod:`ionflow.db.stores`).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ionflow.errors import IonflowInputError

SERVER_PACKAGES = ("nx-27017==0.8.1", "neosqlite==1.17.2")
HOST = "127.0.0.1"
PATCHED_SCRIPT = Path(__file__).with_name("nx_patched.py")
NETWORK_FILESYSTEMS = {"nfs", "nfs4", "lustre", "gpfs", "cifs", "smb3", "beegfs", "fuse.sshfs"}


@dataclass
class ServerStatus:
    """What is known about the embedded server of one data directory.

    Attributes:
        data_dir: The data directory (database files, pid file, log).
        running: True when the recorded process is alive and answers ``ping``.
        pid: Process id of the server, if one is recorded and alive.
        port: TCP port it listens on (127.0.0.1), if running.
        patched: False only for a server started with ``patched=False`` (tests).
        env_installed: True when the server's virtual environment is complete.
        db_size_mb: Total size of the SQLite files (MB).
        already_running: Set by :func:`start` when it found the server running.
    """

    data_dir: Path
    running: bool
    pid: int | None = None
    port: int | None = None
    patched: bool = True
    env_installed: bool = False
    db_size_mb: float = 0.0
    already_running: bool = False

    @property
    def uri(self) -> str | None:
        """MongoDB URI of the running server (no database name), or None."""
        return f"mongodb://{HOST}:{self.port}/" if self.running and self.port else None


def env_dir_for(data_dir: Path) -> Path:
    """Return the server's virtual environment directory for ``data_dir``."""
    return Path(data_dir) / "db-env"


def _paths(data_dir: Path) -> dict[str, Path]:
    data_dir = Path(data_dir)
    return {
        "db": data_dir / "db",
        "pid": data_dir / "nx-27017.pid",
        "info": data_dir / "nx-27017.json",
        "log": data_dir / "nx-27017.log",
        "out": data_dir / "nx-27017.out",
    }


def _env_python(env_dir: Path) -> Path:
    return Path(env_dir) / "bin" / "python"


def _env_stamp(env_dir: Path) -> Path:
    return Path(env_dir) / "ionflow-db-env.txt"


def env_installed(env_dir: Path) -> bool:
    """Return True when ``env_dir`` holds the pinned server packages."""
    stamp = _env_stamp(env_dir)
    return (
        _env_python(env_dir).exists()
        and stamp.exists()
        and stamp.read_text().split() == list(SERVER_PACKAGES)
    )


def install(env_dir: Path, quiet: bool = True) -> bool:
    """Create the server's virtual environment with the pinned packages (idempotent).

    Args:
        env_dir: Directory of the virtual environment (normally ``<data_dir>/db-env``).
        quiet: Hide pip's output unless it fails.

    Returns:
        True if something was installed, False if it was already complete.

    Raises:
        IonflowInputError: if the environment cannot be created or pip fails.
    """
    env_dir = Path(env_dir)
    if env_installed(env_dir):
        return False
    env_dir.parent.mkdir(parents=True, exist_ok=True)
    base_python = getattr(sys, "_base_executable", None) or sys.executable
    steps = [
        [base_python, "-m", "venv", str(env_dir)],
        [str(_env_python(env_dir)), "-m", "pip", "install", "--disable-pip-version-check"]
        + (["-q"] if quiet else [])
        + list(SERVER_PACKAGES),
    ]
    for cmd in steps:
        proc = subprocess.run(cmd, capture_output=quiet, text=True, check=False)
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout or "").strip().splitlines()[-1:] or [""]
            raise IonflowInputError(
                f"could not install the database server into {env_dir} "
                f"({' '.join(cmd[-3:])} failed: {tail[0]}); check network access and "
                "that python3-venv is installed"
            )
    _env_stamp(env_dir).write_text(" ".join(SERVER_PACKAGES) + "\n")
    return True


def _pid_alive(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reap it if it is our own exited child
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie (our own exited child) counts as dead
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def _is_our_server(pid: int) -> bool:
    """True if ``pid`` is an nx-27017 server (guards against a recycled pid)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return _pid_alive(pid)
    return "nx_patched.py" in cmdline or "nx-27017" in cmdline


def _read_pid(data_dir: Path) -> int | None:
    try:
        pid = int(_paths(data_dir)["pid"].read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _pid_alive(pid) and _is_our_server(pid) else None


def _read_info(data_dir: Path) -> dict:
    try:
        return json.loads(_paths(data_dir)["info"].read_text())
    except (OSError, ValueError):
        return {}


def ping(port: int, timeout: float = 1.0) -> bool:
    """Return True if a MongoDB server on 127.0.0.1:``port`` answers ``ping``."""
    import pymongo

    client = pymongo.MongoClient(
        HOST, port, serverSelectionTimeoutMS=int(timeout * 1000), connectTimeoutMS=1000
    )
    try:
        return client.admin.command("ping").get("ok") == 1
    except pymongo.errors.PyMongoError:
        return False
    finally:
        client.close()


PORT_RELEASE_WAIT_S = 3.0


def port_is_free(port: int) -> bool:
    """Return True if nothing listens on 127.0.0.1:``port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # as the server does: connections of a killed server in TIME_WAIT do not count
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _filesystem_type(path: Path) -> str:
    """Return the type of the filesystem holding ``path`` (from /proc/mounts)."""
    path = Path(path).resolve()
    best, fstype = "", ""
    try:
        lines = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return ""
    for line in lines:
        fields = line.split()
        if len(fields) >= 3 and str(path).startswith(fields[1]) and len(fields[1]) > len(best):
            best, fstype = fields[1], fields[2]
    return fstype


def status(data_dir: Path, env_dir: Path | None = None) -> ServerStatus:
    """Return the status of the embedded server of ``data_dir``.

    Args:
        data_dir: The data directory.
        env_dir: The server's virtual environment (default ``<data_dir>/db-env``).
    """
    data_dir = Path(data_dir)
    paths = _paths(data_dir)
    pid = _read_pid(data_dir)
    info = _read_info(data_dir) if pid else {}
    port = info.get("port")
    size = sum(f.stat().st_size for f in paths["db"].glob("*.db*")) if paths["db"].exists() else 0
    return ServerStatus(
        data_dir=data_dir,
        running=bool(pid and port and ping(port)),
        pid=pid,
        port=port,
        patched=info.get("patched", True),
        env_installed=env_installed(env_dir or env_dir_for(data_dir)),
        db_size_mb=size / 1e6,
    )


def _log_tail(data_dir: Path, lines: int = 3) -> str:
    paths = _paths(data_dir)
    text = ""
    for name in ("out", "log"):
        if paths[name].exists():
            text += paths[name].read_text(errors="replace")
    tail = [line for line in text.strip().splitlines() if line.strip()][-lines:]
    return " | ".join(tail)


def start(
    data_dir: Path,
    port: int = 27017,
    env_dir: Path | None = None,
    patched: bool = True,
    timeout: float = 60.0,
    query_timeout_s: float = 60.0,
) -> ServerStatus:
    """Start the embedded server in the background and wait until it answers ``ping``.

    Idempotent: if the server of ``data_dir`` already runs, nothing is started and the
    returned status has ``already_running=True``. A server left behind by ``kill -9`` is
    replaced (the SQLite WAL journal makes its committed data survive).

    Args:
        data_dir: Data directory for the database files, pid file and log (local disk).
        port: TCP port on 127.0.0.1.
        env_dir: The server's virtual environment (default ``<data_dir>/db-env``);
            installed first if missing.
        patched: Apply ionflow's fixes (False only to reproduce upstream bugs in tests).
        timeout: Seconds to wait for the first ``ping`` answer.
        query_timeout_s: Server-side time limit of a read (find, count, distinct,
            aggregate) that gives no ``maxTimeMS`` of its own, in seconds.

    Raises:
        IonflowInputError: if the port is taken, the data directory is on a network
            filesystem, or the server does not come up (the message quotes its log).
    """
    data_dir = Path(data_dir).expanduser().resolve()
    env_dir = Path(env_dir) if env_dir else env_dir_for(data_dir)
    if not 1 <= port <= 65535:
        raise IonflowInputError(f"port {port} is not a TCP port (use 1-65535)")
    if not query_timeout_s > 0:
        raise IonflowInputError(f"query time-out must be positive (s), got {query_timeout_s}")
    current = status(data_dir, env_dir)
    if current.running:
        if current.port != port:
            raise IonflowInputError(
                f"the database of {data_dir} already runs on port {current.port}; "
                f"stop it first (`ionflow db stop --data-dir {data_dir}`)"
            )
        current.already_running = True
        return current
    if current.pid:  # alive but not answering: a hung server of ours
        stop(data_dir)
    # a server killed a moment ago may still hold its socket: give the kernel time
    deadline = time.monotonic() + PORT_RELEASE_WAIT_S
    while not port_is_free(port) and time.monotonic() < deadline:
        time.sleep(0.1)
    if not port_is_free(port):
        raise IonflowInputError(
            f"port {port} on {HOST} is taken by another program; choose another with --port"
        )
    data_dir.mkdir(parents=True, exist_ok=True)
    fstype = _filesystem_type(data_dir)
    if fstype in NETWORK_FILESYSTEMS:
        raise IonflowInputError(
            f"{data_dir} is on a network filesystem ({fstype}); SQLite needs local disk: "
            "pass --data-dir on a local disk"
        )
    install(env_dir)
    paths = _paths(data_dir)
    paths["db"].mkdir(exist_ok=True)
    paths["pid"].unlink(missing_ok=True)
    cmd = [
        str(_env_python(env_dir)),
        str(PATCHED_SCRIPT),
        *(["--query-timeout-s", str(query_timeout_s)] if patched else ["--unpatched"]),
        "--data-dir", str(paths["db"]),
        "--host", HOST,
        "--port", str(port),
        "--journal-mode", "WAL",
        "--pid-file", str(paths["pid"]),
        "--log-file", str(paths["log"]),
    ]  # fmt: skip
    paths["info"].write_text(json.dumps({"port": port, "patched": patched}))
    with open(paths["out"], "wb") as out:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=data_dir,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise IonflowInputError(
                f"the database server exited at start (code {proc.returncode}): "
                f"{_log_tail(data_dir)}"
            )
        if ping(port, timeout=0.5):
            return status(data_dir, env_dir)
        time.sleep(0.1)
    stop(data_dir)
    raise IonflowInputError(
        f"the database server did not answer on {HOST}:{port} within {timeout:.0f} s: "
        f"{_log_tail(data_dir)}"
    )


def stop(data_dir: Path, timeout: float = 10.0) -> bool:
    """Stop the embedded server of ``data_dir`` (SIGTERM, then SIGKILL after ``timeout``).

    Args:
        data_dir: The data directory the server was started with.
        timeout: Seconds to wait for a clean exit.

    Returns:
        True if a server was stopped, False if none was running.
    """
    data_dir = Path(data_dir).expanduser().resolve()
    pid = _read_pid(data_dir)
    if pid is None:
        _paths(data_dir)["pid"].unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _pid_alive(pid):
        os.kill(pid, signal.SIGKILL)
        while _pid_alive(pid):
            time.sleep(0.05)
    _paths(data_dir)["pid"].unlink(missing_ok=True)
    return True
