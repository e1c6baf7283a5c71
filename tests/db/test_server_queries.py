"""Plain pymongo on the embedded server: one test per query shape a user asks.

Every shape runs on an ordinary collection and on a GridFS bucket under its MongoDB
names (``outputs_blobs.files`` / ``.chunks``, as the JobStore's ``data`` store writes
them) and, where upstream nx-27017 is wrong, the upstream answer is asserted too (a
fixed upstream release then shows up here). Each answer is either right or a prompt
error that names the operation: nothing may wait for the client's socket time-out.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator

import gridfs
import pymongo
import pytest
from bson import ObjectId
from jobflow import Flow, job, run_locally
from pymongo.errors import ExecutionTimeout, OperationFailure

from ionflow.db import server
from ionflow.db.stores import DATA_COLLECTION, DOCS_COLLECTION
from tests.db.test_server_fixes import upstream_db  # noqa: F401  (module fixture)
from tests.fixtures.db import db_env_dir

FILES, CHUNKS = f"{DATA_COLLECTION}.files", f"{DATA_COLLECTION}.chunks"
BLOBS = {  # filename -> (bytes, job uuid); "big" spans 3 chunks of 64 KiB
    "big.json": (bytes(range(256)) * 700, "job-1"),
    "small.json": (b'{"x": 1}', "job-2"),
    "empty.json": (b"", "job-2"),
}
CHUNK_BYTES = 64 * 1024
# a short socket time-out: a hang fails the test in seconds instead of minutes
CLIENT_OPTIONS = {"serverSelectionTimeoutMS": 5000, "socketTimeoutMS": 15000, "retryReads": False}


def _fill(database: pymongo.database.Database) -> dict[str, ObjectId]:
    """Ordinary documents in ``outputs`` and three files in the ``outputs_blobs`` bucket."""
    database.outputs.insert_many(
        [
            {"uuid": f"u{i}", "index": i, "name": f"n{i % 2}", "output": {"x": i, "y": [i, -i]}}
            for i in range(6)
        ]
    )
    bucket = gridfs.GridFS(database, collection=DATA_COLLECTION)
    return {
        name: bucket.put(data, filename=name, chunkSize=CHUNK_BYTES, metadata={"job": job})
        for name, (data, job) in BLOBS.items()
    }


@pytest.fixture
def filled(embedded_db: str) -> Iterator[tuple[pymongo.database.Database, dict[str, ObjectId]]]:
    """(database on ionflow's server, file ids by name) with ordinary and GridFS data."""
    client = pymongo.MongoClient(embedded_db, **CLIENT_OPTIONS)
    database = client[f"q{uuid.uuid4().hex[:10]}"]
    ids = _fill(database)
    yield database, ids
    client.drop_database(database.name)
    client.close()


@pytest.fixture
def upstream_filled(upstream_db: str):  # noqa: F811
    client = pymongo.MongoClient(upstream_db, **CLIENT_OPTIONS)
    database = client[f"q{uuid.uuid4().hex[:10]}"]
    _fill(database)
    yield database
    client.close()


def test_collections_listed_under_mongodb_names(filled, upstream_filled):
    database, _ = filled
    assert set(database.list_collection_names()) == {"outputs", FILES, CHUNKS}
    upstream = set(upstream_filled.list_collection_names())
    assert upstream == {"outputs", f"{DATA_COLLECTION}_files", f"{DATA_COLLECTION}_chunks"}


def test_list_collections_with_filter_and_drop(filled):
    database, _ = filled
    assert database.list_collection_names(filter={"name": FILES}) == [FILES]
    assert database.list_collection_names(filter={"name": {"$regex": "^[a-z]+$"}}) == ["outputs"]
    database.drop_collection(FILES)
    database.drop_collection(CHUNKS)
    assert database.list_collection_names() == ["outputs"]


def test_count_documents(filled, upstream_filled):
    database, ids = filled
    assert database.outputs.count_documents({"index": {"$gte": 2}}) == 4
    assert database[FILES].count_documents({}) == 3
    assert database[FILES].count_documents({"metadata.job": "job-2"}) == 2
    assert database[FILES].count_documents({"length": {"$gt": CHUNK_BYTES}}) == 1
    assert database[CHUNKS].count_documents({}) == 4  # 3 + 1 + 0 chunks
    assert database[CHUNKS].count_documents({"files_id": ids["big.json"]}) == 3
    assert database[FILES].estimated_document_count() == 3
    with pytest.raises(OperationFailure, match="no such column"):
        upstream_filled[FILES].count_documents({})


def test_find_with_filter_and_projection(filled, upstream_filled):
    database, ids = filled
    found = database.outputs.find({"name": "n1"}, {"output.x": 1, "_id": 0})
    assert list(found) == [{"output": {"x": x}} for x in (1, 3, 5)]
    files = database[FILES].find({"metadata.job": "job-2"}, {"filename": 1, "length": 1})
    assert sorted((f["filename"], f["length"], f["_id"]) for f in files) == [
        ("empty.json", 0, ids["empty.json"]),
        ("small.json", len(BLOBS["small.json"][0]), ids["small.json"]),
    ]
    chunks = database[CHUNKS].find({"files_id": ids["big.json"]}, {"data": 0, "_id": 0})
    assert list(chunks) == [{"files_id": ids["big.json"], "n": n} for n in range(3)]
    upstream = upstream_filled[FILES].find_one({"filename": "small.json"}, {"filename": 1})
    assert "length" in upstream  # upstream ignores the projection


def test_regular_expressions(filled):
    """``re.compile`` (a BSON regex on the wire) and ``$regex``, on both kinds."""
    database, _ = filled
    assert database.outputs.count_documents({"uuid": re.compile("^u[0-2]$")}) == 3
    assert database.outputs.count_documents({"uuid": {"$regex": "^U[45]", "$options": "i"}}) == 2
    assert database[FILES].count_documents({"filename": re.compile(r"^(big|small)\.")}) == 2
    found = database[FILES].find({"filename": {"$regex": "^e"}}, {"filename": 1, "_id": 0})
    assert list(found) == [{"filename": "empty.json"}]


def test_results_larger_than_a_batch(filled):
    """Cursors with ``getMore`` on both kinds (batch size 1)."""
    database, _ = filled
    assert len(list(database.outputs.find().batch_size(1))) == 6
    assert sorted(f["filename"] for f in database[FILES].find().batch_size(1)) == sorted(BLOBS)
    chunks = database[CHUNKS].find({}, {"n": 1}).batch_size(1)
    assert sum(1 for _ in chunks) == 4


def test_find_one_on_gridfs_and_its_table_name(filled):
    """Upstream hung on ``outputs_blobs_files`` (its own name for the collection)."""
    database, ids = filled
    start = time.monotonic()
    for name in (FILES, f"{DATA_COLLECTION}_files"):
        doc = database[name].find_one({"filename": "small.json"})
        assert doc["_id"] == ids["small.json"]
        assert doc["metadata"] == {"job": "job-2"}
        assert doc["chunkSize"] == CHUNK_BYTES
    chunk = database[f"{DATA_COLLECTION}_chunks"].find_one({"files_id": ids["small.json"]})
    assert chunk["data"] == BLOBS["small.json"][0]
    assert time.monotonic() - start < 5


def test_sort_skip_limit(filled):
    database, _ = filled
    assert [d["index"] for d in database.outputs.find().sort("index", -1).limit(2)] == [5, 4]
    assert [d["index"] for d in database.outputs.find().sort("index", 1).skip(4)] == [4, 5]
    by_length = database[FILES].find({}, {"filename": 1}).sort("length", -1)
    assert [f["filename"] for f in by_length] == ["big.json", "small.json", "empty.json"]
    assert [f["filename"] for f in database[FILES].find().sort("filename", 1).skip(1).limit(1)] == [
        "empty.json"
    ]
    last = database[CHUNKS].find({}, {"n": 1, "_id": 0}).sort("n", -1).limit(1)
    assert list(last) == [{"n": 2}]


def test_distinct(filled):
    database, ids = filled
    assert sorted(database.outputs.distinct("name")) == ["n0", "n1"]
    assert sorted(database.outputs.distinct("output.x", {"name": "n0"})) == [0, 2, 4]
    assert sorted(database[FILES].distinct("metadata.job")) == ["job-1", "job-2"]
    assert sorted(database[CHUNKS].distinct("n", {"files_id": ids["big.json"]})) == [0, 1, 2]


def test_aggregate(filled):
    database, ids = filled
    pipeline = [
        {"$match": {"index": {"$lt": 5}}},
        {"$group": {"_id": "$name", "total": {"$sum": "$index"}}},
        {"$sort": {"_id": 1}},
    ]
    assert list(database.outputs.aggregate(pipeline)) == [
        {"_id": "n0", "total": 6},
        {"_id": "n1", "total": 4},
    ]
    assert list(database.outputs.aggregate([{"$count": "n"}])) == [{"n": 6}]
    sizes = database[FILES].aggregate(
        [{"$group": {"_id": "$metadata.job", "bytes": {"$sum": "$length"}}}, {"$sort": {"_id": 1}}]
    )
    assert list(sizes) == [
        {"_id": "job-1", "bytes": len(BLOBS["big.json"][0])},
        {"_id": "job-2", "bytes": len(BLOBS["small.json"][0])},
    ]
    per_file = database[CHUNKS].aggregate(
        [{"$match": {"files_id": ids["big.json"]}}, {"$project": {"_id": 0, "n": 1}}]
    )
    assert [c["n"] for c in per_file] == [0, 1, 2]


def test_object_id_equality_outside_id(filled, upstream_filled):
    """``{"files_id": oid}``-style filters on ordinary fields (upstream: no match)."""
    database, _ = filled
    ref = ObjectId()
    for coll in (database.refs, upstream_filled.refs):
        coll.insert_many([{"ref": ref, "k": 1}, {"ref": ObjectId(), "k": 2}])
    assert [d["k"] for d in database.refs.find({"ref": ref})] == [1]
    assert database.refs.count_documents({"ref": ref}) == 1
    assert database.refs.count_documents({"ref": {"$in": [ref]}, "k": 1}) == 1
    assert list(upstream_filled.refs.find({"ref": ref})) == []


def test_gridfs_list_and_read(filled):
    database, ids = filled
    fs = gridfs.GridFS(database, collection=DATA_COLLECTION)
    assert sorted(fs.list()) == sorted(BLOBS)
    for name, (data, _) in BLOBS.items():
        assert fs.get(ids[name]).read() == data
        assert fs.get_last_version(name).read() == data
    assert [f.filename for f in fs.find({"metadata.job": "job-1"})] == ["big.json"]
    bucket = gridfs.GridFSBucket(database, bucket_name=DATA_COLLECTION)
    listed = bucket.find({"length": {"$gt": 0}}, sort=[("length", 1)])
    assert [f.filename for f in listed] == ["small.json", "big.json"]
    assert bucket.open_download_stream_by_name("big.json").read() == BLOBS["big.json"][0]
    stream = bucket.open_download_stream(ids["big.json"])
    stream.seek(CHUNK_BYTES + 10)  # a read that starts in the second chunk
    assert stream.read(5) == BLOBS["big.json"][0][CHUNK_BYTES + 10 : CHUNK_BYTES + 15]


def test_unsupported_request_is_a_prompt_error_naming_it(filled):
    database, _ = filled
    start = time.monotonic()
    with pytest.raises(OperationFailure, match=r"^aggregate on .*\.outputs: "):
        list(database.outputs.aggregate([{"$noSuchStage": {}}]))
    with pytest.raises(OperationFailure, match=rf"^aggregate on .*\.{FILES}: "):
        list(database[FILES].aggregate([{"$noSuchStage": {}}]))
    # a join with a GridFS collection would answer wrongly: refused, saying what to do
    lookup = {"from": CHUNKS, "localField": "_id", "foreignField": "files_id", "as": "c"}
    with pytest.raises(OperationFailure, match=r"\$lookup on a GridFS collection .* one by one"):
        list(database[FILES].aggregate([{"$lookup": lookup}]))
    lookup = {"from": FILES, "localField": "uuid", "foreignField": "metadata.job", "as": "f"}
    with pytest.raises(OperationFailure, match=r"\$lookup from a GridFS collection"):
        list(database.outputs.aggregate([{"$lookup": lookup}]))
    assert time.monotonic() - start < 5


def _slow_filter() -> dict:
    # an ObjectId on an ordinary field runs in Python over every row: slow on purpose
    return {"ref": ObjectId(), "k": {"$gte": 0}}


def test_query_time_limit_from_max_time_ms(filled):
    database, _ = filled
    database.many.insert_many([{"ref": ObjectId(), "k": i} for i in range(20_000)])
    start = time.monotonic()
    with pytest.raises(ExecutionTimeout, match="exceeded the time limit"):
        database.many.count_documents(_slow_filter(), maxTimeMS=5)
    assert time.monotonic() - start < 5
    assert database.many.count_documents({"k": {"$lt": 10}}) == 10  # the server goes on


def test_query_time_limit_default_on_server(tmp_path):
    """A read without maxTimeMS stops at the server's ``query_timeout_s``."""
    status = server.start(tmp_path, server.free_port(), env_dir=db_env_dir(), query_timeout_s=0.05)
    client = pymongo.MongoClient(status.uri, **CLIENT_OPTIONS)
    try:
        coll = client.slow.many
        coll.insert_many([{"ref": ObjectId(), "k": i} for i in range(20_000)])
        with pytest.raises(ExecutionTimeout, match=r"find on slow\.many exceeded .* 0\.05 s"):
            list(coll.find(_slow_filter()))
        assert coll.find_one({"k": 3}, {"_id": 0, "k": 1}) == {"k": 3}  # quick reads answer
    finally:
        client.close()
        server.stop(tmp_path)


@job(data=True)
def _structure_job(n_atoms: int) -> dict:
    return {"n_atoms": n_atoms, "positions_A": [[0.5 * i, 0.0, 1.0] for i in range(n_atoms)]}


@job
def _summary_job(structure: dict) -> dict:
    return {"n_atoms": structure["n_atoms"], "kind": "summary"}


def test_pymongo_on_jobstore_outputs(jobstore, db_uri):
    """A real jobflow run into the JobStore, then what a user asks of it with pymongo."""
    blobs = [_structure_job(n) for n in (3, 40)]
    summaries = [_summary_job(b.output) for b in blobs]
    run_locally(Flow(blobs + summaries), store=jobstore, ensure_success=True)
    client = pymongo.MongoClient(db_uri, **CLIENT_OPTIONS)
    try:
        database = client.get_default_database()
        outputs = database[DOCS_COLLECTION]
        assert outputs.count_documents({}) == 4
        assert sorted(outputs.distinct("name")) == ["_structure_job", "_summary_job"]
        summary = outputs.find({"name": "_summary_job"}, {"output.n_atoms": 1, "_id": 0}).sort(
            "output.n_atoms", -1
        )
        assert [d["output"]["n_atoms"] for d in summary] == [40, 3]
        per_name = outputs.aggregate([{"$group": {"_id": "$name", "n": {"$sum": 1}}}])
        assert {g["_id"]: g["n"] for g in per_name} == {"_structure_job": 2, "_summary_job": 2}
        # the task document holds a reference; the data are a GridFS file found by it
        ref = outputs.find_one({"uuid": blobs[1].uuid}, {"output": 1})["output"]
        assert ref["store"] == "data"
        assert database[FILES].count_documents({}) == 2
        (file_doc,) = database[FILES].find(
            {"metadata.blob_uuid": ref["blob_uuid"]}, {"metadata": 1, "length": 1}
        )
        assert file_doc["metadata"]["job_uuid"] == blobs[1].uuid
        chunks = database[CHUNKS].find({"files_id": file_doc["_id"]}).sort("n", 1)
        raw = b"".join(c["data"] for c in chunks)
        assert len(raw) == file_doc["length"]
        bucket = gridfs.GridFSBucket(database, bucket_name=DATA_COLLECTION)
        assert bucket.open_download_stream(file_doc["_id"]).read() == raw
        stored = json.loads(raw)["data"]
        assert stored["n_atoms"] == 40 and stored["positions_A"][-1] == [19.5, 0.0, 1.0]
    finally:
        client.close()
