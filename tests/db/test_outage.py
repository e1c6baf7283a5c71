"""Riding out a database outage (ionflow.db.outage) on a real embedded server.

The server is killed with SIGKILL and started again on the same port and data directory
while an operation waits; the operation then succeeds. Acknowledged writes made before the
kill are all there afterwards (SQLite in WAL mode, autocommit: a write is committed
before the server answers it).
"""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from ionflow.db import server
from ionflow.db.outage import OutagePolicy, RetryingCollection, outage_tolerant_jobstore


@pytest.fixture
def own_server(tmp_path):
    """A server of this test alone (the session's server is shared): (data_dir, port)."""
    from tests.fixtures.db import db_env_dir

    data_dir, port = tmp_path / "db", server.free_port()
    server.start(data_dir, port=port, env_dir=db_env_dir())
    yield data_dir, port
    server.stop(data_dir)


def _kill(data_dir) -> None:
    os.kill(server.status(data_dir).pid, signal.SIGKILL)


def _restart_later(data_dir, port, delay_s: float) -> threading.Thread:
    from tests.fixtures.db import db_env_dir

    def restart() -> None:
        time.sleep(delay_s)
        server.start(data_dir, port=port, env_dir=db_env_dir())

    thread = threading.Thread(target=restart)
    thread.start()
    return thread


def test_gives_up_after_its_wait():
    import pymongo
    from pymongo.errors import ConnectionFailure

    client = pymongo.MongoClient(
        "127.0.0.1", server.free_port(), serverSelectionTimeoutMS=200, connectTimeoutMS=200
    )
    collection = RetryingCollection(client.db.things, OutagePolicy(wait_s=1.5, first_delay_s=0.2))
    t0 = time.monotonic()
    with pytest.raises(ConnectionFailure):
        collection.insert_one({"a": 1})
    assert 1.0 < time.monotonic() - t0 < 5.0
    with pytest.raises(ConnectionFailure):  # no wait at all
        OutagePolicy(wait_s=0).call(client.db.things.find_one, {})


@pytest.mark.slow
def test_operations_wait_for_a_restarted_server(own_server):
    import pymongo

    data_dir, port = own_server
    client = pymongo.MongoClient("127.0.0.1", port, serverSelectionTimeoutMS=2000)
    policy = OutagePolicy(wait_s=60, first_delay_s=0.2)
    things = RetryingCollection(client.db.things, policy)
    acknowledged = 0
    for i in range(200):
        things.insert_one({"i": i})
        acknowledged += 1
    things.find_one({})  # the connection is pooled: the kill breaks it

    _kill(data_dir)
    restart = _restart_later(data_dir, port, delay_s=3.0)
    t0 = time.monotonic()
    things.update_one({"i": 0}, {"$set": {"seen": "yes"}})  # first use of the dead socket
    waited_s = time.monotonic() - t0
    restart.join()
    assert waited_s > 2.0  # it did wait for the restart
    assert things.count_documents({}) == acknowledged  # nothing acknowledged was lost
    assert things.find_one({"i": 0})["seen"] == "yes"
    assert sorted(d["i"] for d in things.find({}, {"i": 1}).sort("i").limit(5)) == list(range(5))

    _kill(data_dir)  # a cursor read while the server is down
    restart = _restart_later(data_dir, port, delay_s=2.0)
    assert len(list(things.find({"i": {"$lt": 10}}))) == 10
    restart.join()
    client.close()


@pytest.mark.slow
def test_jobstore_update_waits_for_a_restarted_server(own_server):
    from ionflow.db.stores import get_jobstore
    from ionflow.settings import IonflowSettings

    data_dir, port = own_server
    settings = IonflowSettings(db_uri=f"mongodb://127.0.0.1:{port}/outage")
    store = outage_tolerant_jobstore(get_jobstore(settings), OutagePolicy(wait_s=60))
    store.connect()
    doc = {"uuid": "a", "index": 1, "output": {"x": 1, "blob": "y" * 5000}}
    store.update(doc, key=["uuid", "index"], save={"data": ["blob"]})
    _kill(data_dir)
    restart = _restart_later(data_dir, port, delay_s=2.0)
    doc = {"uuid": "b", "index": 1, "output": {"x": 2, "blob": "z" * 5000}}
    store.update(doc, key=["uuid", "index"], save={"data": ["blob"]})
    restart.join()
    assert store.get_output("b", load=True)["blob"] == "z" * 5000
    assert store.get_output("a")["x"] == 1
    assert store.count() == 2
    assert store.as_dict()["@class"] == "OutageTolerantJobStore"
    store.close()
