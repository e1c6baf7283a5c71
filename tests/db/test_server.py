"""Lifecycle of the embedded server: start/stop/status, kill -9, CLI, clear errors."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pymongo
import pytest
from typer.testing import CliRunner

from ionflow.cli.main import app
from ionflow.db import server
from ionflow.errors import IonflowInputError
from tests.fixtures.db import db_env_dir

IONFLOW = Path(sys.executable).parent / "ionflow"


@pytest.fixture
def own_server(tmp_path):
    """(data_dir, port) of a server owned by the test; stopped afterwards."""
    data_dir = tmp_path / "data"
    port = server.free_port()
    (data_dir).mkdir()
    os.symlink(db_env_dir(), server.env_dir_for(data_dir))  # reuse the installed env
    yield data_dir, port
    server.stop(data_dir)


def test_start_is_idempotent_and_binds_localhost_only(own_server):
    data_dir, port = own_server
    first = server.start(data_dir, port)
    again = server.start(data_dir, port)
    assert first.running and not first.already_running
    assert again.already_running and again.pid == first.pid
    assert first.uri == f"mongodb://127.0.0.1:{port}/"
    listening = Path(f"/proc/{first.pid}/net/tcp").read_text()
    hex_port = f"{port:04X}"
    local = [ln.split()[1] for ln in listening.splitlines()[1:] if ln.split()[3] == "0A"]
    assert f"0100007F:{hex_port}" in local  # 127.0.0.1
    assert f"00000000:{hex_port}" not in local  # not 0.0.0.0
    assert server.stop(data_dir) is True
    assert server.stop(data_dir) is False
    assert not server.status(data_dir).running


def test_port_taken_gives_one_clear_error(own_server):
    data_dir, _ = own_server
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(IonflowInputError, match=f"port {port} .* taken"):
            server.start(data_dir, port)
    assert not server.status(data_dir).running


def test_data_survives_kill_9_and_restart(own_server):
    data_dir, port = own_server
    status = server.start(data_dir, port)
    client = pymongo.MongoClient(status.uri, serverSelectionTimeoutMS=5000)
    client.keep.things.insert_many([{"i": i, "sq": i * i} for i in range(200)])
    client.keep.things.update_one({"i": 7}, {"$set": {"tag": "seven"}})
    client.close()
    db_file = data_dir / "db" / "keep.db"
    with closing(sqlite3.connect(db_file)) as sql:
        assert sql.execute("pragma journal_mode").fetchone() == ("wal",)
    os.kill(status.pid, signal.SIGKILL)
    assert not server.status(data_dir).running

    restarted = server.start(data_dir, port)
    assert restarted.running and restarted.pid != status.pid
    client = pymongo.MongoClient(restarted.uri, serverSelectionTimeoutMS=5000)
    try:
        assert client.keep.things.count_documents({}) == 200
        assert client.keep.things.find_one({"i": 7})["tag"] == "seven"
        assert client.keep.things.find_one({"i": 199})["sq"] == 199**2
    finally:
        client.close()


def test_cli_start_status_stop(own_server):
    data_dir, port = own_server
    args = ["--port", str(port), "--data-dir", str(data_dir)]
    runner = CliRunner()
    result = runner.invoke(app, ["db", "start", *args])
    assert result.exit_code == 0, result.output
    assert f"started: mongodb://127.0.0.1:{port}/" in result.output
    result = runner.invoke(app, ["db", "start", *args])
    assert result.exit_code == 0 and "already running" in result.output
    result = runner.invoke(app, ["db", "status", *args])
    assert result.exit_code == 0
    assert "running" in result.output and str(port) in result.output
    result = runner.invoke(app, ["db", "stop", *args])
    assert result.exit_code == 0 and "database stopped" in result.output
    result = runner.invoke(app, ["db", "status", *args])
    assert "stopped" in result.output


def test_cli_error_is_one_line_exit_2(own_server):
    data_dir, _ = own_server
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        proc = subprocess.run(
            [IONFLOW, "db", "start", "--port", str(port), "--data-dir", data_dir],
            capture_output=True,
            text=True,
            check=False,
        )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert proc.stderr.startswith("ionflow: error: port")


def test_install_is_idempotent_and_quick(own_server):
    data_dir, _ = own_server
    assert server.env_installed(server.env_dir_for(data_dir))
    assert server.install(server.env_dir_for(data_dir)) is False
    result = CliRunner().invoke(app, ["db", "install", "--data-dir", str(data_dir)])
    assert result.exit_code == 0 and "already installed" in result.output
