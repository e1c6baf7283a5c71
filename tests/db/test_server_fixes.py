"""The nx-27017 bugs: reproduced on the upstream server, fixed on ionflow's.

Each test runs on both servers. On ``upstream`` (nx-27017 0.8.1 as shipped) it asserts
that the bug is still there, so a fixed upstream release shows up here as a failure
(then the fix in ``ionflow/db/nx_patched.py`` can go). On ``ionflow`` it asserts the
correct MongoDB behaviour.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pymongo
import pytest
from fireworks import Firework, FWorker, LaunchPad, ScriptTask, Workflow
from pymongo.errors import OperationFailure

from ionflow.db import server
from tests.fixtures.db import db_env_dir


@pytest.fixture(scope="module")
def upstream_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URI of an nx-27017 server started without ionflow's fixes."""
    data_dir = tmp_path_factory.mktemp("upstream_db")
    status = server.start(data_dir, server.free_port(), env_dir=db_env_dir(), patched=False)
    assert not status.patched
    try:
        yield status.uri
    finally:
        server.stop(data_dir)


@pytest.fixture(params=["upstream", "ionflow"])
def db(request: pytest.FixtureRequest) -> Iterator[tuple[str, pymongo.database.Database]]:
    """(server kind, fresh database) on the upstream or on ionflow's patched server."""
    uri = request.getfixturevalue("upstream_db" if request.param == "upstream" else "embedded_db")
    client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=5000)
    name = f"bug{uuid.uuid4().hex[:10]}"
    yield request.param, client[name]
    client.drop_database(name)
    client.close()


def _launchpad(database: pymongo.database.Database) -> LaunchPad:
    """A LaunchPad on ``database``, initialised without ``reset`` (which hits bug a)."""
    host, port = database.client.address
    lpad = LaunchPad(host=f"mongodb://{host}:{port}/", name=database.name, uri_mode=True)
    lpad.fw_id_assigner.insert_one({"next_fw_id": 1, "next_launch_id": 1})
    return lpad


def test_bug_a_index_with_id_breaks_inserts(db):
    kind, database = db
    database.fws.create_index([("state", pymongo.DESCENDING), ("_id", pymongo.DESCENDING)])
    if kind == "upstream":
        with pytest.raises(OperationFailure, match="JSON path error near '_id'"):
            database.fws.insert_one({"state": "READY"})
    else:
        database.fws.insert_one({"state": "READY"})
        assert database.fws.count_documents({"state": "READY"}) == 1


def test_bug_a_launchpad_reset_then_add_wf(db):
    kind, database = db
    host, port = database.client.address
    lpad = LaunchPad(host=f"mongodb://{host}:{port}/", name=database.name, uri_mode=True)
    wf = Workflow([Firework(ScriptTask.from_str("true"), name="only")])
    if kind == "upstream":
        with pytest.raises(OperationFailure, match="_id"):
            lpad.reset("", require_password=False)
            lpad.add_wf(wf)
    else:
        lpad.reset("", require_password=False)
        lpad.add_wf(wf)
        assert lpad.get_fw_ids() == [1]


def test_bug_b_array_index_hides_members(db):
    kind, database = db
    database.wfs.create_index("nodes")
    database.wfs.insert_one({"nodes": [1, 2, 3]})
    found = list(database.wfs.find({"nodes": 3}))
    assert database.wfs.count_documents({"nodes": 3}) == 1  # count is right on both
    assert len(found) == (0 if kind == "upstream" else 1)


def test_bug_b_launchpad_finds_workflow_of_firework(db):
    kind, database = db
    lpad = _launchpad(database)
    lpad.workflows.create_index("nodes")  # as LaunchPad.tuneup does
    parent = Firework(ScriptTask.from_str("true"), name="parent")
    child = Firework(ScriptTask.from_str("true"), name="child", parents=[parent])
    lpad.add_wf(Workflow([parent, child]))
    child_id = lpad.get_fw_ids({"name": "child"})[0]
    if kind == "upstream":
        with pytest.raises(ValueError, match="Could not find a Workflow"):
            lpad.get_wf_by_fw_id(child_id)
    else:
        assert sorted(lpad.get_wf_by_fw_id(child_id).id_fw) == sorted(lpad.get_fw_ids())


def test_bug_c_or_beside_other_keys_in_updates(db):
    kind, database = db
    database.c.insert_many([{"k": 1, "s": "A"}, {"k": 2, "s": "B"}, {"k": 3, "s": "A"}])
    query = {"$or": [{"s": "A"}, {"s": "B"}], "k": 2}
    assert database.c.count_documents(query) == 1  # find/count are right on both
    matched = database.c.update_many(query, {"$set": {"hit": True}}).matched_count
    deleted = database.c.delete_many({"$or": [{"s": "A"}, {"s": "Z"}], "k": 2}).deleted_count
    if kind == "upstream":
        assert (matched, deleted) == (3, 2)
    else:
        assert (matched, deleted) == (1, 0)
        assert [d["k"] for d in database.c.find({"hit": True})] == [2]


def test_bug_c_checkout_takes_waiting_firework(db, tmp_path):
    """FireWorks' checkout query is ``state=READY`` beside an ``$or`` on the worker."""
    kind, database = db
    lpad = _launchpad(database)
    parent = Firework(ScriptTask.from_str("true"), name="parent")
    child = Firework(ScriptTask.from_str("true"), name="child", parents=[parent])
    lpad.add_wf(Workflow([parent, child]))
    first, _ = lpad.checkout_fw(FWorker(), str(tmp_path))
    second, _ = lpad.checkout_fw(FWorker(), str(tmp_path))
    if kind == "upstream":
        assert first.name == "child"  # WAITING, yet checked out (and again, forever)
        assert second is not None and second.name == "child"
    else:
        assert first.name == "parent"
        assert second is None


def test_group_with_document_id(db):
    """Also known upstream: ``$group`` keeps a document ``_id`` literally (maggma groupby)."""
    kind, database = db
    database.g.insert_many(
        [{"a": 1, "b": 1, "v": 1}, {"a": 1, "b": 1, "v": 2}, {"a": 2, "b": 1, "v": 5}]
    )
    pipeline = [{"$group": {"_id": {"a": "$a", "b": "$b"}, "n": {"$sum": "$v"}}}]
    groups = {(g["_id"]["a"], g["_id"]["b"]): g["n"] for g in database.g.aggregate(pipeline)}
    if kind == "upstream":
        assert groups == {("$a", "$b"): 8}
    else:
        assert groups == {(1, 1): 3, (2, 1): 5}
        scalar = [g["_id"] for g in database.g.aggregate([{"$group": {"_id": "$a"}}])]
        assert sorted(scalar) == [1, 2]  # plain field keys unchanged


def test_maggma_groupby_on_fixed_server(db_uri):
    from maggma.stores import MongoStore

    store = MongoStore(database=None, collection_name="groups", uri=db_uri, key="i")
    store.connect()
    store.update([{"i": i, "kind": "odd" if i % 2 else "even", "x": i} for i in range(5)])
    sizes = {key["kind"]: len(docs) for key, docs in store.groupby("kind", properties=["x"])}
    store.close()
    assert sizes == {"even": 3, "odd": 2}


def test_dotted_projection(db):
    """Also known upstream: ``{"x.y": 1}`` returns a flat ``"x.y"`` key."""
    kind, database = db
    database.p.insert_one({"x": {"y": 1, "z": 2}, "w": 3, "h": [{"r": 1, "q": 0}, {"r": 2}]})
    included = database.p.find_one({}, {"x.y": 1, "h.r": 1, "_id": 0})
    excluded = database.p.find_one({}, {"x.y": 0, "h.q": 0, "_id": 0})
    if kind == "upstream":
        assert included == {"x.y": 1}
        assert excluded["x"] == {"y": 1, "z": 2}
    else:
        assert included == {"x": {"y": 1}, "h": [{"r": 1}, {"r": 2}]}
        assert excluded == {"x": {"z": 2}, "w": 3, "h": [{"r": 1}, {"r": 2}]}


def _typed(value):
    """``value`` with the type of every scalar, so that ``True`` and ``1`` differ."""
    if isinstance(value, dict):
        return {k: _typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed(v) for v in value]
    return (type(value).__name__, value)


def test_bug_j_updates_store_bools(db):
    """SQLite binds a bool as 1/0: ``$set`` on an existing document stored an integer."""
    kind, database = db
    database.b.insert_one({"_id": 1, "arr": [False]})
    database.b.update_one({"_id": 1}, {"$set": {"z": True, "f": False}})
    database.b.update_one({"_id": 1}, {"$push": {"p": True}, "$addToSet": {"arr": True}})
    after = database.b.find_one_and_update(
        {"_id": 1}, {"$set": {"r": True}}, return_document=pymongo.ReturnDocument.AFTER
    )
    database.b.update_one({"_id": 2}, {"$setOnInsert": {"i": True}, "$set": {"s": 1}}, upsert=True)
    stored = database.b.find_one({"_id": 1})
    assert _typed(database.b.find_one({"_id": 2})["i"]) == ("bool", True)  # both: upsert in Python
    if kind == "upstream":
        assert _typed(stored["z"]) == ("int", 1) and _typed(stored["f"]) == ("int", 0)
        assert _typed(stored["p"]) == [("int", 1)] and _typed(after["r"]) == ("int", 1)
    else:
        assert _typed({k: stored[k] for k in ("z", "f", "p", "arr", "r")}) == _typed(
            {"z": True, "f": False, "p": [True], "arr": [False, True], "r": True}
        )
        assert _typed(after["r"]) == ("bool", True)


def test_bug_j_filter_on_bool_matches_only_bools(db):
    """``{"n": True}`` matched a stored 1: in MongoDB bool and number are different types."""
    kind, database = db
    database.b.insert_many([{"_id": i, "n": n} for i, n in enumerate([1, True, 0, False])])
    matched = {
        "eq": sorted(d["_id"] for d in database.b.find({"n": True})),
        "count": database.b.count_documents({"n": False}),
        "in": sorted(d["_id"] for d in database.b.find({"n": {"$in": [True]}})),
        "ne": sorted(d["_id"] for d in database.b.find({"n": {"$ne": True}})),
        "gt": sorted(d["_id"] for d in database.b.find({"n": {"$gt": False}})),
        "or": sorted(d["_id"] for d in database.b.find({"$or": [{"n": True}, {"_id": 2}]})),
        "update": database.b.update_many({"n": True}, {"$set": {"hit": 1}}).matched_count,
    }
    if kind == "upstream":
        assert matched == {"eq": [0, 1], "count": 2, "in": [0, 1], "ne": [2, 3], "gt": [0, 1],
                           "or": [0, 1, 2], "update": 2}  # fmt: skip
    else:
        assert matched == {"eq": [1], "count": 1, "in": [1], "ne": [0, 2, 3], "gt": [1],
                           "or": [1, 2], "update": 1}  # fmt: skip
        checked_out = database.b.find_one_and_update({"n": False}, {"$set": {"taken": True}})
        assert checked_out["_id"] == 3
        assert database.b.delete_many({"n": True}).deleted_count == 1
        assert database.b.count_documents({}) == 3


def test_bug_j_aggregate_and_distinct_return_bools(db):
    """``json_extract`` reads JSON true as 1: ``$project``, ``$group`` and ``distinct``."""
    kind, database = db
    database.b.insert_many([{"_id": 1, "a": True, "d": {"x": False}}, {"_id": 2, "a": 1}])
    projected = list(database.b.aggregate([{"$match": {"_id": 1}}, {"$project": {"a": 1}}]))
    grouped = database.b.aggregate([{"$group": {"_id": "$a", "n": {"$sum": 1}}}])
    groups = sorted(_typed(g["_id"]) for g in grouped)
    distinct = sorted(_typed(v) for v in database.b.distinct("a"))
    if kind == "upstream":
        assert _typed(projected) == [{"a": ("int", 1), "_id": ("str", "1")}]
        assert groups == [("int", 1)] and distinct == [("int", 1)]
    else:
        assert _typed(projected) == [{"_id": ("int", 1), "a": ("bool", True)}]
        assert groups == distinct == [("bool", True), ("int", 1)]
        assert _typed(database.b.distinct("d.x")) == [("bool", False)]


def test_bug_k_null_equality_in_python_matcher(db):
    """``{"f": null}`` beside ``$or`` (Python matcher) missed a stored null: FireWorks' worker."""
    kind, database = db
    database.n.insert_many(
        [{"_id": 1, "s": {"w": None}}, {"_id": 2, "s": {}}, {"_id": 3, "s": {"w": "x"}}]
    )
    assert sorted(d["_id"] for d in database.n.find({"s.w": None})) == [1, 2]  # SQL: right
    in_python = sorted(d["_id"] for d in database.n.find({"$or": [{"s.w": None}, {"_id": 0}]}))
    lpad = _launchpad(database)
    lpad.add_wf(Firework(ScriptTask.from_str("true"), name="null", spec={"_fworker": None}))
    if kind == "upstream":
        assert in_python == [2]
        assert not lpad.run_exists(FWorker())
    else:
        assert in_python == [1, 2]
        assert lpad.run_exists(FWorker())
        assert database.n.count_documents({"$and": [{"s.w": None}]}) == 2


NUMBERS_AND_BOOLS = [
    {"_id": 0, "n": 1},
    {"_id": 1, "n": True},
    {"_id": 2, "n": 0},
    {"_id": 3, "n": False},
    {"_id": 4, "a": [True]},
    {"_id": 5, "a": [2, False]},
    {"_id": 6},
    {"_id": 7, "d": [{"n": True}, {"n": 3}]},
]
NUMBER_QUERIES = {  # name -> (filter, the _ids MongoDB finds in NUMBERS_AND_BOOLS)
    "eq": ({"n": 1}, [0]),
    "eq_zero": ({"n": 0}, [2]),
    "$eq": ({"n": {"$eq": 1}}, [0]),
    "in": ({"n": {"$in": [0, 2]}}, [2]),
    "ne": ({"n": {"$ne": 1}}, [1, 2, 3, 4, 5, 6, 7]),
    "nin": ({"n": {"$nin": [0, 1]}}, [1, 3, 4, 5, 6, 7]),
    "gt": ({"n": {"$gt": 0}}, [0]),
    "lte": ({"n": {"$lte": 0}}, [2]),
    "in_array": ({"a": 1}, []),
    "in_array_2": ({"a": {"$in": [0, 2]}}, [5]),
    "nin_array": ({"a": {"$nin": [0, 1]}}, [0, 1, 2, 3, 4, 5, 6, 7]),
    "through_array": ({"d.n": 1}, []),
    "or": ({"$or": [{"n": 1}, {"a": {"$gt": 1}}]}, [0, 5]),  # the Python matcher
    "or_ne": ({"$or": [{"n": {"$ne": 0}}, {"_id": 2}]}, [0, 1, 2, 3, 4, 5, 6, 7]),
}


@pytest.mark.parametrize("indexed", [False, True], ids=["unindexed", "indexed"])
def test_bug_l_number_filter_matches_only_numbers(db, indexed):
    """``{"n": 1}`` matched a stored ``true``: SQLite reads JSON true as 1."""
    kind, database = db
    if indexed:
        for key in ("n", "a", "d.n"):
            database.b.create_index(key)
    database.b.insert_many(NUMBERS_AND_BOOLS)
    expected = {name: ids for name, (_, ids) in NUMBER_QUERIES.items()}
    queries = {name: query for name, (query, _) in NUMBER_QUERIES.items()}
    found = {name: sorted(d["_id"] for d in database.b.find(q)) for name, q in queries.items()}
    counted = {name: database.b.count_documents(q) for name, q in queries.items()}
    piped = [d["_id"] for d in database.b.aggregate([{"$match": {"n": 1}}, {"$sort": {"_id": 1}}])]
    piped.append(next(database.b.aggregate([{"$match": {"n": {"$gt": 0}}}, {"$count": "c"}]))["c"])
    updated = {
        name: database.b.update_many(queries[name], {"$inc": {"k": 1}}).matched_count
        for name in ("eq", "in", "ne", "gt")
    }
    if kind == "upstream":
        assert 1 in found["eq"] and found["$eq"] == [0, 1] and found["in"] == [2, 3]
        assert found["gt"] == [0, 1] and found["ne"] == [2, 3, 4, 5, 6, 7]
        assert piped == [0, 1, 2] and updated["eq"] == 2
        return
    assert found == expected
    assert counted == {name: len(ids) for name, ids in expected.items()}
    assert piped == [0, 1]
    assert updated == {name: len(expected[name]) for name in updated}
    assert database.b.find_one_and_update({"n": 0}, {"$set": {"taken": 1}})["_id"] == 2
    assert database.b.delete_many({"n": 0}).deleted_count == 1
    assert [d["_id"] for d in database.b.find({"n": {"$in": [True, False]}})] == [1, 3]


def test_bug_m_ne_in_updates_matches_missing_field(db):
    """``$ne`` in updates and deletes (``f != ?`` in SQL) skipped documents without ``f``."""
    kind, database = db
    database.m.insert_many([{"_id": 1, "s": "x"}, {"_id": 2, "s": "y"}, {"_id": 3}])
    assert database.m.count_documents({"s": {"$ne": "x"}}) == 2  # find/count: right on both
    updated = database.m.update_many({"s": {"$ne": "x"}}, {"$set": {"hit": 1}}).matched_count
    deleted = database.m.delete_many({"s": {"$ne": "x"}}).deleted_count
    assert (updated, deleted) == ((1, 1) if kind == "upstream" else (2, 2))
