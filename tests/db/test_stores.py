"""JobStore and LaunchPad built from settings, on the embedded server."""

from __future__ import annotations

import numpy as np
import pytest
from jobflow import Flow, Response, job, run_locally

from ionflow.db.stores import DATA_COLLECTION, database_name, get_jobstore, get_launchpad
from ionflow.errors import IonflowInputError
from ionflow.settings import IonflowSettings

REAL_URI = "mongodb://alice:s%40cret@db.example.org:27018/proj?authSource=admin&tls=true"


def test_database_name_from_uri():
    assert database_name("mongodb://127.0.0.1:27017/abc") == "abc"
    assert database_name("mongodb://127.0.0.1:27017/", default="dflt") == "dflt"
    assert database_name(REAL_URI) == "proj"
    with pytest.raises(IonflowInputError, match="not a MongoDB URI"):
        database_name("http://127.0.0.1:27017/abc")


def test_real_mongodb_uri_is_passed_unchanged():
    """One setting switches to a real MongoDB: user, password, authSource, TLS kept."""
    settings = IonflowSettings(db_uri=REAL_URI)
    store = get_jobstore(settings)
    assert store.docs_store.uri == REAL_URI
    assert store.docs_store.database == "proj"
    assert store.additional_stores["data"].uri == REAL_URI
    lpad = get_launchpad(settings)  # MongoClient connects lazily
    try:
        assert lpad.uri_mode and lpad.name == "proj"
        opts = lpad.connection.options
        credentials = opts.pool_options._credentials
        assert credentials.username == "alice"
        assert credentials.password == "s@cret"
        assert credentials.source == "admin"
        assert opts.pool_options._ssl_context is not None  # tls=true
    finally:
        lpad.connection.close()


@job
def _add(a: int, b: int) -> int:
    return a + b


@job(data=True)
def _blob(n_floats: int) -> Response:
    rng = np.random.default_rng(3)
    return Response(output={"n": n_floats, "values": rng.random(n_floats).tolist()})


def test_run_locally_with_jobstore(jobstore):
    first = _add(1, 2)
    second = _add(first.output, 4)
    responses = run_locally(Flow([first, second]), store=jobstore, ensure_success=True)
    assert responses[second.uuid][1].output == 7
    assert jobstore.get_output(second.uuid) == 7
    assert jobstore.count({"uuid": first.uuid}) == 1


@pytest.mark.slow
def test_large_blob_goes_to_gridfs_and_back(jobstore):
    """A > 16 MB output (over MongoDB's document limit) is stored in the data store."""
    n_floats = 1_200_000  # ~ 23 MB as JSON text
    blob_job = _blob(n_floats)
    run_locally(blob_job, store=jobstore, ensure_success=True)
    doc = jobstore.query_one({"uuid": blob_job.uuid}, load=False)
    assert doc["output"]["store"] == "data"  # a reference, not the data
    data_store = jobstore.additional_stores["data"]
    assert data_store.collection_name == DATA_COLLECTION
    assert data_store.count() == 1
    files = jobstore.docs_store._collection.database[f"{DATA_COLLECTION}.files"]
    assert files.find_one({})["length"] > 16 * 1024**2
    out = jobstore.get_output(blob_job.uuid, load=True)
    assert out["n"] == n_floats
    assert len(out["values"]) == n_floats
    assert out["values"][:3] == pytest.approx(np.random.default_rng(3).random(3))
