"""Start the nx-27017 MongoDB wire-protocol server with ionflow's fixes applied.

This file runs under the Python of the database environment (``<data_dir>/db-env``,
made by ``ionflow db install``), not under ionflow's own environment: it imports only
the standard library, ``neosqlite`` and ``nx_27017``, and is started as a script path::

    <db-env>/bin/python nx_patched.py --data-dir DIR --host 127.0.0.1 -p PORT ...

All arguments are those of the ``nx-27017`` command. With ``--unpatched`` the server is
started exactly as upstream ships it (used by the tests that prove the bugs exist).

The fixes, each the smallest change that makes FireWorks and maggma correct
(nx-27017 0.8.1, neosqlite 1.17.2):

(a) An index whose key list contains ``_id`` is built on ``json_extract(data, '_id')``,
    an invalid JSON path, so every later insert fails with "JSON path error near
    '_id'". ``_id`` is a unique column with its own index, so such an index adds no
    constraint: it is built on the remaining keys (not unique), or not at all.
(b) For a field with an index, ``{"nodes": 3}`` is translated as a plain equality and
    misses arrays that contain 3. The array-membership form is used for every field.
(c) ``$or`` is translated as ``A OR B`` without brackets, so beside other keys the SQL
    reads ``k = v AND A OR B`` in updates, deletes and ``find_one_and_update``. Each
    logical group is now bracketed.

Two more upstream faults are fixed because maggma and FireWorks use them: (d) ``$group``
with a document ``_id`` (maggma ``groupby``) and (e) dotted projections (``lpad`` with
``state_history.reservation_id``, maggma ``properties=["a.b"]``).

So that plain pymongo answers what users ask of the stored outputs:

(f) ``{"field": ObjectId(...)}`` on a field other than ``_id`` (``files_id`` of GridFS
    chunks) matched nothing: such filters are evaluated in Python, as upstream already
    does for ObjectId comparisons with operators.
(g) GridFS collections go by their MongoDB names: ``listCollections`` shows
    ``outputs_blobs.files`` / ``.chunks`` (not the SQLite tables ``outputs_blobs_files``
    / ``_chunks``, which stay accepted as aliases). Reads on them (``find`` with filter,
    projection, sort, skip, limit; ``count``; ``distinct``; ``aggregate``) are answered
    by the same query engine as ordinary collections, over the rows seen as MongoDB
    documents; upstream ignored projections, failed ``count_documents`` ("no such
    column") and hung on the alias names.
(h) Every request gets an answer: an error is returned as ``"<command> on <db>.<coll>:
    <reason>"`` and a reply that cannot be encoded becomes an error reply (upstream only
    logged it and left the client waiting until its socket time-out).
(i) Reads stop at a time limit on the server side: ``maxTimeMS`` if the client gives
    one, else ``--query-timeout-s`` (default 60 s); the client gets MongoDB's error 50
    (``MaxTimeMSExpired``, pymongo ``ExecutionTimeout``). Writes are never interrupted.
(j) Booleans stay booleans (SQLite binds ``True`` as 1 and ``json_extract`` reads JSON
    true as 1): updates writing a bool take upstream's Python update path; a filter
    comparing with a bool goes to the Python matcher, where a bool equals (and orders
    against) only a bool;
    pipelines that take values out of documents run in upstream's Python aggregation
    (a leading ``$match`` still selects by SQL); ``distinct`` of a key holding bools runs
    in Python. Still as upstream: sorts order ``false``/``true`` as 0/1 among numbers.
(k) ``{"f": null}`` matches a stored null in the Python matcher too (upstream: only a
    missing ``f``), so FireWorks' worker query finds a firework whose ``_fworker`` is null.
(l) A number never matches a boolean (the reverse of (j)): with a number, the SQL read
    a stored ``true`` as 1, so ``{"output.nsteps": 1}`` found ``"nsteps": true`` (also
    ``$eq``, ``$in``, ``$gt`` ..., through arrays) and ``$ne: 1`` missed it. Each SQL
    comparison with a number also tests the stored value's ``json_type`` (still SQL,
    indexes still used; comparisons with strings or ObjectIds are unchanged), and the
    Python matcher compares the filter's numbers only with numbers.
(m) ``{"f": {"$ne": v}}`` in updates, deletes and ``find_one_and_*`` matches documents
    without ``f``, as ``find`` does (upstream wrote ``f != ?`` there).
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import json
import re
import sqlite3
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

PATCH_VERSIONS = {"nx-27017": "0.8.1", "neosqlite": "1.17.2"}
DEFAULT_QUERY_TIMEOUT_S = 60.0
READ_COMMANDS = ("find", "count", "distinct", "aggregate")


def _key_name(key: Any) -> Any:
    return key[0] if isinstance(key, (tuple, list)) else key


def _fix_id_indexes() -> None:
    """Fix (a): drop ``_id`` from index key lists (the column is unique already)."""
    from neosqlite.collection.index_manager import IndexManager

    original = IndexManager.create_index

    signature = inspect.signature(original)

    def create_index(self: Any, *args: Any, **kwargs: Any) -> str:
        bound = signature.bind(self, *args, **kwargs)
        key = bound.arguments["key"]
        if isinstance(key, list) and any(_key_name(k) == "_id" for k in key):
            rest = [k for k in key if _key_name(k) != "_id"]
            if not rest:
                return f"idx_{self.collection.name}__id"
            bound.arguments["key"] = rest
            bound.arguments["unique"] = False  # implied by the unique _id column
        return original(*bound.args, **bound.kwargs)

    IndexManager.create_index = create_index


def _fix_array_membership() -> None:
    """Fix (b): always translate ``{field: value}`` with the array-membership form."""
    from neosqlite.collection.query_helper._sql_query_builder import SqlQueryBuilderMixin

    SqlQueryBuilderMixin._field_has_index = lambda self, field: False


def _fix_or_brackets() -> None:
    """Fix (c): bracket every translated ``$and``/``$or``/``$nor`` group."""
    from neosqlite.collection.sql_translator_unified import SQLClauseBuilder

    original = SQLClauseBuilder._build_logical_condition

    def build_logical_condition(self: Any, *args: Any, **kwargs: Any) -> tuple:
        sql, params = original(self, *args, **kwargs)
        if sql:
            sql = f"({sql})"
        return sql, params

    SQLClauseBuilder._build_logical_condition = build_logical_condition


_MISSING = object()


def _group_key(helper: Any, spec: Any, doc: dict) -> Any:
    """Value of a ``$group`` ``_id`` spec for ``doc`` (documents evaluated field by field)."""
    from neosqlite.collection.expr_evaluator import ExprEvaluator, _is_expression

    if isinstance(spec, dict) and not any(str(k).startswith("$") for k in spec):
        values = {k: _group_key(helper, v, doc) for k, v in spec.items()}
        return {k: v for k, v in values.items() if v is not _MISSING}
    if isinstance(spec, str) and spec.startswith("$") and not spec.startswith("$$"):
        field = spec[1:]
        return (
            helper.collection._get_val(doc, field)
            if helper._field_exists(doc, field)
            else (_MISSING)
        )
    if _is_expression(spec):
        evaluator = ExprEvaluator(data_column="data", db_connection=helper.collection.db)
        return evaluator._evaluate_expr_python(spec, doc)
    return spec


def _fix_group_document_id() -> None:
    """Fix (d): ``$group`` with a document ``_id`` such as ``{"a": "$a", "b": "$b"}``.

    Upstream keeps the literal ``{"a": "$a", ...}`` as the key, so every document falls
    in one group. Here each document's key is evaluated, documents are partitioned by
    it, and upstream's accumulators run on each partition.
    """
    from neosqlite.collection.query_helper.aggregation import AggregationMixin
    from neosqlite.collection.type_utils import _hashable_group_key

    original = AggregationMixin._process_group_stage

    def process_group_stage(self: Any, group_query: dict, docs: list) -> list:
        spec = group_query.get("_id")
        if not (isinstance(spec, dict) and not any(str(k).startswith("$") for k in spec)):
            return original(self, group_query, docs)
        partitions: dict[Any, tuple[dict, list]] = {}
        for doc in docs:
            key = _group_key(self, spec, doc)
            partitions.setdefault(_hashable_group_key(key), (key, []))[1].append(doc)
        rest = {**group_query, "_id": None}
        grouped = []
        for key, members in partitions.values():
            (group,) = original(self, rest, members)
            group["_id"] = key
            grouped.append(group)
        return grouped

    AggregationMixin._process_group_stage = process_group_stage


def _project_doc(doc: dict, parts: list[str]) -> dict:
    """The fragment of ``doc`` kept by the inclusion path ``parts`` (MongoDB rules)."""
    if parts[0] not in doc:
        return {}
    value = doc[parts[0]]
    if len(parts) == 1:
        return {parts[0]: copy.deepcopy(value)}
    if isinstance(value, (dict, list)):
        return {parts[0]: _project_value(value, parts[1:])}
    return {}


def _project_value(value: Any, parts: list[str]) -> Any:
    if isinstance(value, dict):
        return _project_doc(value, parts)
    return [_project_value(item, parts) for item in value if isinstance(item, (dict, list))]


def _merge(target: Any, fragment: Any) -> Any:
    """Deep-merge two projection fragments of the same document."""
    if isinstance(target, dict) and isinstance(fragment, dict):
        for key, value in fragment.items():
            target[key] = _merge(target[key], value) if key in target else value
        return target
    if isinstance(target, list) and isinstance(fragment, list):
        return [_merge(a, b) for a, b in zip(target, fragment, strict=False)]
    return fragment


def _exclude_path(value: Any, parts: list[str]) -> None:
    if isinstance(value, list):
        for item in value:
            _exclude_path(item, parts)
    elif isinstance(value, dict) and parts[0] in value:
        if len(parts) == 1:
            del value[parts[0]]
        else:
            _exclude_path(value[parts[0]], parts[1:])


def _fix_dotted_projection() -> None:
    """Fix (e): projections with dotted keys, ``{"x.y": 1}`` -> ``{"x": {"y": ...}}``.

    Upstream returns ``{"x.y": ...}`` for an inclusion and ignores dotted exclusions.
    Plain 0/1 projections with a dotted key are applied here (through arrays, as
    MongoDB does); projections with expressions go to upstream unchanged.
    """
    from neosqlite.collection.query_helper.aggregation import AggregationMixin

    original = AggregationMixin._apply_projection

    def apply_projection(self: Any, projection: dict, document: dict) -> dict:
        plain = bool(projection) and all(isinstance(v, (bool, int)) for v in projection.values())
        if not plain or not any("." in key for key in projection):
            return original(self, projection, document)
        include_id = bool(projection.get("_id", 1))
        fields = {k: bool(v) for k, v in projection.items() if k != "_id"}
        if any(fields.values()):
            out: dict = {}
            if include_id and "_id" in document:
                out["_id"] = document["_id"]
            for key, keep in fields.items():
                if keep:
                    _merge(out, _project_doc(document, key.split(".")))
            return out
        out = copy.deepcopy(document)
        for key in fields:
            _exclude_path(out, key.split("."))
        if not include_id:
            out.pop("_id", None)
        return out

    AggregationMixin._apply_projection = apply_projection


def _any_leaf(value: Any, test: Any) -> bool:
    """True if ``test`` holds for a value found inside dicts and lists (recursively)."""
    if isinstance(value, dict):
        return any(_any_leaf(v, test) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_any_leaf(v, test) for v in value)
    return test(value)


def _contains_object_id(value: Any) -> bool:
    from neosqlite.objectid import ObjectId

    return _any_leaf(value, lambda v: isinstance(v, ObjectId))


def _fix_object_id_fields() -> None:
    """Fix (f): a filter with an ObjectId on a field other than ``_id`` runs in Python.

    Upstream turns such ObjectIds into their hex text before translating to SQL (and
    before its Python matcher), so they never equal the stored ObjectId. Here the
    ObjectIds outside ``_id`` are kept, and such a filter goes to the Python matcher,
    which compares ObjectIds.
    """
    import neosqlite.collection.query_helper as query_helper_package
    from neosqlite.collection import type_correction
    from neosqlite.collection.query_helper import _sql_query_builder

    original_normalize = type_correction.normalize_id_query_for_db

    def normalize_id_query_for_db(query: Any) -> Any:
        if not isinstance(query, dict):
            return original_normalize(query)
        kept = {k: v for k, v in query.items() if k not in ("_id", "id") and _contains_object_id(v)}
        normalized = original_normalize({k: v for k, v in query.items() if k not in kept})
        return {**normalized, **kept}

    for module in (type_correction, _sql_query_builder, query_helper_package):
        if hasattr(module, "normalize_id_query_for_db"):
            module.normalize_id_query_for_db = normalize_id_query_for_db

    builder = _sql_query_builder.SqlQueryBuilderMixin
    original_where = builder._build_simple_where_clause

    def build_simple_where_clause(self: Any, query: dict[str, Any]) -> tuple | None:
        if _object_id_outside_id(query):
            return None
        return original_where(self, query)

    builder._build_simple_where_clause = build_simple_where_clause

    from neosqlite.collection.query_engine import QueryEngine

    original_aggregate = QueryEngine.aggregate_with_constraints
    original_distinct = QueryEngine.distinct

    def aggregate_with_constraints(
        self: Any, pipeline: list, batch_size: int = 101, session: Any = None
    ) -> list:
        if any(_object_id_outside_id(m) for m in _matches(pipeline)):
            return _aggregate_in_python(self, pipeline, session)
        return original_aggregate(self, pipeline, batch_size=batch_size, session=session)

    def distinct(self: Any, key: str, filter: Any = None, session: Any = None) -> list:
        if not _object_id_outside_id(filter):
            return original_distinct(self, key, filter, session=session)
        return _distinct_in_python(self, key, filter, session)

    QueryEngine.aggregate_with_constraints = aggregate_with_constraints
    QueryEngine.distinct = distinct


def _matches(pipeline: Any) -> list:
    """The ``$match`` filters of an aggregation pipeline."""
    stages = pipeline if isinstance(pipeline, list) else []
    return [s["$match"] for s in stages if isinstance(s, dict) and "$match" in s]


class _Prefiltered:
    """A query engine whose ``find()`` without a filter finds only ``match``."""

    def __init__(self, engine: Any, match: dict) -> None:
        self._engine = engine
        self._match = match

    def find(self, filter: Any = None, *args: Any, **kwargs: Any) -> Any:
        return self._engine.find(self._match if filter is None else filter, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)


def _aggregate_in_python(engine: Any, pipeline: list, session: Any) -> list:
    """Upstream's Python aggregation (tier 3); a leading ``$match`` selects by ``find``.

    Tier 3 reads the whole collection and applies every stage in Python; a first
    ``$match`` is answered by ``find`` instead (SQL where it translates), so that only
    the matching documents are read.
    """
    from neosqlite.collection.query_engine.python_aggregation_engine import (
        execute_python_aggregation,
    )

    first = pipeline[0] if pipeline else None
    if isinstance(first, dict) and set(first) == {"$match"} and isinstance(first["$match"], dict):
        engine, pipeline = _Prefiltered(engine, first["$match"]), pipeline[1:]
    if not pipeline:
        return list(engine.find(session=session))
    return execute_python_aggregation(engine, pipeline, session)


def _same_value(a: Any, b: Any) -> bool:
    """Equality of two stored values where a bool equals only a bool (BSON types)."""
    return isinstance(a, bool) == isinstance(b, bool) and a == b


def _distinct_in_python(engine: Any, key: str, filter: Any, session: Any) -> list:
    """``distinct`` over the documents ``find`` returns (arrays give their elements)."""
    values: list = []
    for doc in engine.find(filter, session=session):
        for value in _path_values(doc, key.split(".")):
            if not any(_same_value(value, seen) for seen in values):
                values.append(value)
    return values


def _object_id_outside_id(query: Any) -> bool:
    return isinstance(query, dict) and any(
        _contains_object_id(v) for k, v in query.items() if k not in ("_id", "id")
    )


def _path_values(value: Any, parts: list[str]) -> Iterator[Any]:
    """The values ``distinct`` sees at a dotted path (arrays give their elements)."""
    if not parts:
        yield from value if isinstance(value, list) else [value]
    elif isinstance(value, dict):
        if parts[0] in value:
            yield from _path_values(value[parts[0]], parts[1:])
    elif isinstance(value, list):
        for item in value:
            yield from _path_values(item, parts)


# --- (g) GridFS collections under their MongoDB names ---------------------------------

GRIDFS_TABLE_COLUMNS = {
    "files": {"_id", "filename", "length", "chunkSize", "uploadDate", "metadata"},
    "chunks": {"files_id", "n", "data"},
}


def _table_columns(conn: Any, table: str) -> set[str]:
    return {row[1] for row in conn.execute(f'PRAGMA table_info("{table}")')}


def _gridfs_name(conn: Any, name: Any) -> str | None:
    """MongoDB name (``bucket.files``/``.chunks``) if ``name`` is a GridFS collection.

    ``bucket.files`` is one by its name; ``bucket_files`` (the SQLite table) only when
    the table has the GridFS columns, so an ordinary collection named ``x_files`` stays
    ordinary.
    """
    if not isinstance(name, str):
        return None
    for kind, columns in GRIDFS_TABLE_COLUMNS.items():
        if name.endswith(f".{kind}") and len(name) > len(kind) + 1:
            return name
        alias = name.endswith(f"_{kind}") and len(name) > len(kind) + 1
        if alias and columns <= _table_columns(conn, name):
            return f"{name[: -len(kind) - 1]}.{kind}"
    return None


def _gridfs_tables(conn: Any) -> dict[str, str]:
    """SQLite table -> MongoDB name, for every GridFS table of a database."""
    tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    found = {}
    for table in tables:
        name = _gridfs_name(conn, table)
        if name and name != table:
            found[table] = name
    return found


def _parsed(text: Any, parse: Any) -> Any:
    """``parse(text)`` for stored text; the value itself if it is not text or not valid."""
    if not isinstance(text, str):
        return text
    try:
        return parse(text)
    except (TypeError, ValueError):
        return text


def _object_id(text: Any) -> Any:
    from neosqlite.objectid import ObjectId

    return _parsed(text, ObjectId) if isinstance(text, str) and len(text) == 24 else text


def _ids_in_filter(value: Any) -> list[str] | None:
    """The ids a top-level ``_id``/``files_id`` condition allows, or None (any)."""
    if isinstance(value, dict):
        if set(value) == {"$eq"}:
            value = value["$eq"]
        elif set(value) == {"$in"} and isinstance(value["$in"], list):
            return [str(v) for v in value["$in"]]
        else:
            return None
    if value is None or isinstance(value, (list, dict)):
        return None
    return [str(value)]


def _gridfs_documents(conn: Any, name: str, ids: list[str] | None, with_data: bool) -> list[dict]:
    """The rows of a GridFS table as the documents MongoDB stores for them."""
    bucket, kind = name.rsplit(".", 1)
    files, chunks = f"{bucket}_files", f"{bucket}_chunks"
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if files not in tables or (kind == "chunks" and chunks not in tables):
        return []
    where, params = "", []
    if ids is not None:
        where = f" WHERE {'f.' if kind == 'chunks' else ''}_id IN ({','.join('?' * len(ids))})"
        params = ids
    docs = []
    if kind == "files":
        columns = _table_columns(conn, files)
        extra = ", ".join(c if c in columns else "NULL" for c in ("content_type", "aliases"))
        rows = conn.execute(
            f"SELECT _id, filename, length, chunkSize, uploadDate, md5, metadata, {extra}"
            f' FROM "{files}"{where} ORDER BY id',
            params,
        )
        for _id, filename, length, chunk_size, upload, md5, meta, ctype, aliases in rows:
            doc = {
                "_id": _object_id(_id),
                "filename": filename,
                "length": length,
                "chunkSize": chunk_size,
                "uploadDate": _parsed(upload, datetime.fromisoformat),
                "md5": md5,
                "metadata": _parsed(meta, json.loads),
            }
            if ctype is not None:
                doc["contentType"] = ctype
            if aliases is not None:
                doc["aliases"] = _parsed(aliases, json.loads)
            docs.append(doc)
        return docs
    data = "c.data" if with_data else "NULL"
    rows = conn.execute(
        f'SELECT c._id, f._id, c.n, {data} FROM "{chunks}" c '
        f'LEFT JOIN "{files}" f ON f.id = c.files_id{where} ORDER BY c.files_id, c.n',
        params,
    )
    for chunk_id, files_id, n, blob in rows:
        doc = {"_id": chunk_id, "files_id": _object_id(files_id), "n": n}
        if with_data:
            doc["data"] = bytes(blob) if blob is not None else b""
        docs.append(doc)
    return docs


def _needs_chunk_data(op: str, body: dict) -> bool:
    """Whether a read on a chunks collection can see the ``data`` field."""
    if op == "count":
        return "data" in repr(body.get("query"))
    if op == "distinct":
        return body.get("key") == "data" or "data" in repr(body.get("query"))
    if op == "find":
        projection = body.get("projection") or {}
        if "data" in repr(body.get("filter")) or not projection:
            return True
        includes = any(v for k, v in projection.items() if k != "_id")
        return bool(projection.get("data", not includes))
    pipeline = body.get("pipeline") or []
    reduces = any("$group" in stage or "$count" in stage for stage in pipeline)
    return "data" in repr(pipeline) or not reduces


def _plain(value: Any) -> Any:
    """Documents of the in-memory view as the wire encoder takes them (bytes, not Binary)."""
    if isinstance(value, bytes) and type(value) is not bytes:
        return bytes(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _gridfs_read(
    handler: Any, op: str, body: dict, name: str, db_name: str, owner: Any, conn: Any, timer: Any
) -> dict:
    """Answer ``find``/``count``/``distinct``/``aggregate`` on a GridFS collection.

    The rows are loaded as MongoDB documents (only the files a top-level ``_id`` or
    ``files_id`` condition allows) into an in-memory collection, where the ordinary
    query engine (with the fixes above) evaluates the request.
    """
    import neosqlite

    ns = f"{db_name}.{name}"
    key = "_id" if name.endswith(".files") else "files_id"
    if op == "aggregate":
        pipeline = body.get("pipeline") or []
        first = pipeline[0] if pipeline else {}
        filt = first.get("$match", {}) if isinstance(first, dict) else {}
    else:
        filt = body.get("filter" if op == "find" else "query") or {}
        filt = handler._convert_objectids(filt)
    ids = _ids_in_filter(filt.get(key)) if isinstance(filt, dict) else None
    with_data = name.endswith(".chunks") and _needs_chunk_data(op, body)
    docs = _gridfs_documents(conn, name, ids, with_data)
    memory = neosqlite.Connection(":memory:")
    try:
        timer.watch(memory.db)
        view = memory["gridfs_view"]
        if docs:
            view.insert_many(docs)
        if op == "count":
            n = view.count_documents(filt)
            n = max(0, n - int(body.get("skip") or 0))
            limit = abs(int(body.get("limit") or 0))
            return {"ok": 1, "n": min(n, limit) if limit else n}
        if op == "distinct":
            return {"ok": 1, "values": _plain(view.distinct(body.get("key", ""), filt))}
        if op == "find":
            projection = body.get("projection")
            cursor = view.find(filt, projection) if projection else view.find(filt)
            if body.get("sort"):
                cursor = cursor.sort(list(body["sort"].items()))
            if body.get("skip"):
                cursor = cursor.skip(int(body["skip"]))
            if body.get("limit"):
                cursor = cursor.limit(abs(int(body["limit"])))
            results = list(cursor)
        else:
            results = view.aggregate(pipeline).to_list()
        first_batch, cursor_id = handler._split_first_batch(
            _plain(results), handler._first_batch_size(body), ns, db_name, owner=owner
        )
        return {"ok": 1, "cursor": {"id": cursor_id, "ns": ns, "firstBatch": first_batch}}
    finally:
        memory.close()


# --- (h), (i) an answer to every request, time limit on reads -------------------------


class _Deadline:
    """Interrupts SQLite work on watched connections after ``limit_s`` seconds."""

    def __init__(self, limit_s: float | None) -> None:
        self.limit_s = limit_s
        self.expired = False
        self._end = time.monotonic() + limit_s if limit_s else None
        self._watched: list[Any] = []

    def _check(self) -> int:
        if self._end is not None and time.monotonic() > self._end:
            self.expired = True
            return 1  # SQLite aborts the statement ("interrupted")
        return 0

    def watch(self, conn: Any) -> None:
        """Install the check on ``conn`` (every 1000 SQLite VM steps)."""
        if self._end is not None:
            conn.set_progress_handler(self._check, 1000)
            self._watched.append(conn)

    def release(self) -> None:
        """Remove the check from every watched connection."""
        for conn in self._watched:
            with contextlib.suppress(sqlite3.ProgrammingError):  # the closed in-memory view
                conn.set_progress_handler(None, 0)
        self._watched.clear()


def _body(msg: dict) -> dict | None:
    for section_type, doc in msg.get("sections", []):
        if section_type == "body" and isinstance(doc, dict):
            return doc
    return None


def _writes(pipeline: Any) -> bool:
    return isinstance(pipeline, list) and any(
        isinstance(s, dict) and ("$out" in s or "$merge" in s) for s in pipeline
    )


def _is_special_pipeline(pipeline: Any) -> bool:
    """Change streams and search-index listings: upstream's own paths."""
    return isinstance(pipeline, list) and any(
        isinstance(s, dict) and ("$changeStream" in s or "$listSearchIndexes" in s)
        for s in pipeline
    )


def _compiled_regexes(value: Any) -> Any:
    """BSON regular expressions (``re.compile`` in pymongo) as Python patterns."""
    if hasattr(value, "try_compile") and hasattr(value, "pattern"):
        return value.try_compile()
    if isinstance(value, dict):
        return {k: _compiled_regexes(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_compiled_regexes(v) for v in value]
    return value


JOIN_STAGES = ("$lookup", "$graphLookup", "$unionWith")


def _gridfs_join(conn: Any, name: str | None, pipeline: Any) -> str | None:
    """``"$lookup from"`` when a pipeline joins a GridFS collection (not supported)."""
    for stage in pipeline if isinstance(pipeline, list) else []:
        for key in JOIN_STAGES:
            spec = stage.get(key) if isinstance(stage, dict) else None
            if spec is None:
                continue
            other = spec if isinstance(spec, str) else spec.get("from", spec.get("coll"))
            if name or _gridfs_name(conn, other):
                return f"{key} from" if name is None else f"{key} on"
    return None


def _matching(documents: list[dict], query: dict) -> list[dict]:
    """The documents that match ``query`` (the ordinary query engine, in memory)."""
    import neosqlite

    memory = neosqlite.Connection(":memory:")
    try:
        view = memory["matching"]
        if documents:
            view.insert_many([{**doc, "_id": k} for k, doc in enumerate(documents)])
        keep = {doc["_id"] for doc in view.find(query, {"_id": 1})}
    finally:
        memory.close()
    return [doc for k, doc in enumerate(documents) if k in keep]


def _fix_requests(query_timeout_s: float) -> None:
    """Fixes (g), (h), (i) around the handler's two entry points."""
    from nx_27017.gridfs_adapter import create_gridfs_adapter
    from nx_27017.handler import NeoSQLiteHandler
    from nx_27017.wire_protocol import ResponseBuilder

    original_command = NeoSQLiteHandler.handle_command
    original_insert = NeoSQLiteHandler.handle_insert
    original_list = NeoSQLiteHandler._handle_list_collections
    original_reply = ResponseBuilder.build_op_msg_reply

    def answer(self: Any, msg: dict, original: Any) -> tuple[int, dict]:
        body = _body(msg)
        if body is None:
            return original(self, msg)
        op = next(iter(body), "")
        db_name = body.get("$db", "test")
        target = body.get(op)
        with self._lock_for(db_name):
            conn = self.get_database(db_name).db
            name = _gridfs_name(conn, target)
            if name and name != target:
                body[op] = name  # the SQLite table name is an alias
            if name and op not in (*READ_COMMANDS, "drop"):  # index commands need the tables
                create_gridfs_adapter(conn, name)
            ns = f"{db_name}.{name or target}" if isinstance(target, str) else db_name
            if op in READ_COMMANDS:  # upstream converts the ids of find filters only
                for key in ("filter", "query", "pipeline"):
                    if key in body:
                        body[key] = _compiled_regexes(
                            self._convert_objectids({"v": body[key]})["v"]
                        )
            pipeline = body.get("pipeline")
            if op == "aggregate" and (joined := _gridfs_join(conn, name, pipeline)):
                return msg.get("request_id", 0), {
                    "ok": 0,
                    "errmsg": f"aggregate on {ns}: {joined} a GridFS collection is not "
                    "supported by the embedded server; query the collections one by one",
                    "code": 115,
                }
            is_read = op in READ_COMMANDS and not _writes(pipeline)
            max_ms = body.get("maxTimeMS")
            limit_s = max_ms / 1000.0 if isinstance(max_ms, (int, float)) and max_ms else None
            timer = _Deadline((limit_s or query_timeout_s) if is_read else None)
            timer.watch(conn)
            request_id = msg.get("request_id", 0)
            try:
                if name and is_read and not _is_special_pipeline(pipeline):
                    response = _gridfs_read(
                        self, op, body, name, db_name, msg.get("_conn_id"), conn, timer
                    )
                else:
                    request_id, response = original(self, msg)
            except Exception as exc:  # every request gets an answer
                response = {"ok": 0, "errmsg": f"{op} on {ns}: {exc}", "code": 1}
            finally:
                timer.release()
        if timer.expired:
            return request_id, {
                "ok": 0,
                "errmsg": f"{op} on {ns} exceeded the time limit of {timer.limit_s:g} s "
                "(maxTimeMS, or the server's --query-timeout-s)",
                "code": 50,
                "codeName": "MaxTimeMSExpired",
            }
        if op == "listCollections" and response.get("ok") and body.get("filter"):
            batch = response["cursor"]["firstBatch"]
            response["cursor"]["firstBatch"] = _matching(batch, body["filter"])
        errmsg = response.get("errmsg") if isinstance(response, dict) else None
        if response.get("ok") == 0 and isinstance(errmsg, str) and not errmsg.startswith(op):
            response["errmsg"] = f"{op} on {ns}: {errmsg}"
        return request_id, response

    def handle_command(self: Any, msg: dict) -> tuple[int, dict]:
        return answer(self, msg, original_command)

    def handle_insert(self: Any, msg: dict) -> tuple[int, dict]:
        return answer(self, msg, original_insert)

    def list_collections(self: Any, request_id: int, db: Any, db_name: str = "test") -> tuple:
        request_id, response = original_list(self, request_id, db, db_name)
        names = _gridfs_tables(db.db)
        for entry in response.get("cursor", {}).get("firstBatch", []):
            entry["name"] = names.get(entry["name"], entry["name"])
        return request_id, response

    def build_op_msg_reply(request_id: int, response_to: int, document: dict, flags: int = 0):
        try:
            return original_reply(request_id, response_to, document, flags)
        except Exception as exc:  # an unencodable answer must not leave the client waiting
            error = {"ok": 0, "errmsg": f"the server could not encode its answer: {exc}"[:2000]}
            return original_reply(request_id, response_to, error, flags)

    NeoSQLiteHandler.handle_command = handle_command
    NeoSQLiteHandler.handle_insert = handle_insert
    NeoSQLiteHandler._handle_list_collections = list_collections
    ResponseBuilder.build_op_msg_reply = staticmethod(build_op_msg_reply)


# --- (j) booleans stay booleans ---------------------------------------------------------


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool)


def _is_number(value: Any) -> bool:
    """True for an int or float that is no bool (bool is a subclass of int in Python)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _same_kind(a: Any, b: Any) -> bool:
    """True if ``a`` and ``b`` are both bools or both numbers (BSON types that order)."""
    return isinstance(a, bool) == isinstance(b, bool) and isinstance(b, (int, float))


class _Typed:
    """A bool or number of a query that equals and orders only within its BSON type.

    In BSON, booleans are not numbers: ``_Typed(1) == True`` and ``_Typed(0) < True``
    are False, as are comparisons of a number with anything but a number.
    """

    __slots__ = ("value",)

    def __init__(self, value: bool | int | float) -> None:
        self.value = value

    def __eq__(self, other: Any) -> bool:
        return _same_value(self.value, other.value if isinstance(other, _Typed) else other)

    def __ne__(self, other: Any) -> bool:
        return not self == other

    def __lt__(self, other: Any) -> bool:
        return _same_kind(self.value, other) and self.value < other

    def __le__(self, other: Any) -> bool:
        return _same_kind(self.value, other) and self.value <= other

    def __gt__(self, other: Any) -> bool:
        return _same_kind(self.value, other) and self.value > other

    def __ge__(self, other: Any) -> bool:
        return _same_kind(self.value, other) and self.value >= other

    def __hash__(self) -> int:
        return hash(self.value)

    def __repr__(self) -> str:
        return repr(self.value)


COMPARISON_OPERATORS = ("$eq", "$ne", "$in", "$nin", "$all", "$gt", "$gte", "$lt", "$lte")
WHOLE_DOCUMENT_STAGES = ("$match", "$sort", "$skip", "$limit", "$count")
PYTHON_TIER_STAGES = (  # the stages upstream's Python aggregation (tier 3) runs
    *WHOLE_DOCUMENT_STAGES,
    *("$project", "$replaceRoot", "$replaceWith", "$unset", "$group", "$unwind"),
    *("$lookup", "$addFields", "$setWindowFields", "$graphLookup", "$fill", "$sample"),
    *("$facet", "$bucket", "$bucketAuto", "$unionWith", "$redact", "$densify"),
)


def _strict_operand(value: Any, test: Any) -> Any:
    """``value`` with its scalars passing ``test`` as :class:`_Typed`, or None if none."""
    if test(value):
        return _Typed(value)
    if isinstance(value, list) and any(test(v) for v in value):
        return [_Typed(v) if test(v) else v for v in value]
    return None


def _strict_values(query: Any, test: Any = _is_bool) -> dict | None:
    """``query`` with the values passing ``test`` it compares with as :class:`_Typed`.

    None if there is no such value. Values are looked for where a value is compared:
    ``{"f": v}``, ``$eq``/``$ne``/``$in``/``$nin``/``$all``/``$gt``/``$gte``/``$lt``/
    ``$lte``, also inside ``$and``/``$or``/``$nor``/``$not``; operator arguments such as
    ``{"$exists": True}`` are no operands.
    """
    if not isinstance(query, dict):
        return None
    strict, changed = dict(query), False
    for key, value in query.items():
        new = None
        if key in ("$and", "$or", "$nor") and isinstance(value, list):
            parts = [_strict_values(q, test) for q in value]
            if any(part is not None for part in parts):
                new = [q if part is None else part for q, part in zip(value, parts, strict=True)]
        elif key == "$not":
            new = _strict_values(value, test)
        elif str(key).startswith("$"):
            continue
        elif isinstance(value, dict) and value and all(str(k).startswith("$") for k in value):
            operands = {
                op: _strict_operand(arg, test) if op in COMPARISON_OPERATORS else None
                for op, arg in value.items()
            }
            if any(operand is not None for operand in operands.values()):
                new = {
                    op: arg if operands[op] is None else operands[op] for op, arg in value.items()
                }
        else:
            new = _strict_operand(value, test)
        if new is not None:
            strict[key], changed = new, True
    return strict if changed else None


def _reshapes(pipeline: Any) -> bool:
    """True for a pipeline whose output holds values taken out of the stored JSON.

    Upstream's SQL tiers read such values with ``json_extract``, which gives 1/0 for
    true/false; whole-document stages only return the stored documents. (pymongo's
    ``count_documents``, a ``$group`` on a constant, went to tier 3 upstream already.)
    """
    stages = [s for s in pipeline if isinstance(s, dict) and len(s) == 1]
    names = [next(iter(s)) for s in stages]
    return (
        len(stages) == len(pipeline)
        and all(name in PYTHON_TIER_STAGES for name in names)
        and any(name not in WHOLE_DOCUMENT_STAGES for name in names)
    )


def _path_holds_bool(engine: Any, key: str) -> bool:
    """True if some document has a bool at ``key`` (or in the array there)."""
    from neosqlite.collection.json_path_utils import parse_json_path
    from neosqlite.sql_utils import quote_table_name

    table = quote_table_name(engine.collection.name)
    row = engine.collection.db.execute(
        f"SELECT 1 FROM {table} WHERE EXISTS (SELECT 1 FROM json_each(data, ?)"
        " WHERE type IN ('true', 'false')) LIMIT 1",
        (parse_json_path(key),),
    ).fetchone()
    return row is not None


def _fix_booleans() -> None:
    """Fix (j): booleans are stored, compared and returned as booleans, not 1/0.

    SQLite binds a Python bool as the integer 1/0 and ``json_extract`` reads JSON
    true/false back as 1/0. So: updates writing a bool take upstream's Python update
    path (the whole document is written as JSON); filters comparing with a bool go to
    the Python matcher (as in (f)), where a bool equals only a bool; pipelines that
    take values out of documents (``$project``, ``$group``, ``$addFields``, ``$unwind``
    ...) run in upstream's Python aggregation; ``distinct`` of a key holding bools runs
    in Python.
    """
    from neosqlite.collection.query_engine import QueryEngine
    from neosqlite.collection.query_helper._sql_query_builder import SqlQueryBuilderMixin
    from neosqlite.collection.query_helper._sql_updates import SqlUpdatesMixin
    from neosqlite.collection.query_helper.query_builder import QueryBuilderMixin
    from neosqlite.collection.sql_translator_unified import SQLTranslator

    original_can_use_sql = SqlUpdatesMixin._can_use_sql_updates
    original_where = SqlQueryBuilderMixin._build_simple_where_clause
    original_translate = SQLTranslator.translate_match
    original_apply = QueryBuilderMixin._apply_query
    original_aggregate = QueryEngine.aggregate_with_constraints
    original_distinct = QueryEngine.distinct

    def can_use_sql_updates(self: Any, update_spec: dict, *args: Any, **kwargs: Any) -> bool:
        if _any_leaf(update_spec, lambda v: isinstance(v, bool)):
            return False
        return original_can_use_sql(self, update_spec, *args, **kwargs)

    def build_simple_where_clause(self: Any, query: dict[str, Any]) -> tuple | None:
        if _strict_values(query) is not None:
            return None
        return original_where(self, query)

    def translate_match(self: Any, match_spec: Any, *args: Any, **kwargs: Any) -> tuple:
        if _strict_values(match_spec) is not None:
            return None, []  # callers fall back to find(), i.e. to the Python matcher
        return original_translate(self, match_spec, *args, **kwargs)

    def apply_query(self: Any, query: dict[str, Any], document: dict[str, Any]) -> bool:
        return original_apply(self, _strict_values(query) or query, document)

    def aggregate_with_constraints(
        self: Any, pipeline: list, batch_size: int = 101, session: Any = None
    ) -> list:
        if _reshapes(pipeline) or any(_strict_values(m) is not None for m in _matches(pipeline)):
            return _aggregate_in_python(self, pipeline, session)
        return original_aggregate(self, pipeline, batch_size=batch_size, session=session)

    def distinct(self: Any, key: str, filter: Any = None, session: Any = None) -> list:
        if _strict_values(filter) is None and not _path_holds_bool(self, key):
            return original_distinct(self, key, filter, session=session)
        return _distinct_in_python(self, key, filter, session)

    SqlUpdatesMixin._can_use_sql_updates = can_use_sql_updates
    SqlQueryBuilderMixin._build_simple_where_clause = build_simple_where_clause
    SQLTranslator.translate_match = translate_match
    QueryBuilderMixin._apply_query = apply_query
    QueryEngine.aggregate_with_constraints = aggregate_with_constraints
    QueryEngine.distinct = distinct


# --- (k) {"f": null} matches a stored null ----------------------------------------------


def _null_at(value: Any, parts: list[str]) -> bool:
    """True where MongoDB's ``{"a.b": null}`` matches: the path is missing or null.

    An array on the way is looked into (any element may match); at the end, an array
    matches when it holds a null.
    """
    if not parts:
        return value is None or (isinstance(value, list) and None in value)
    if isinstance(value, dict):
        return parts[0] not in value or _null_at(value[parts[0]], parts[1:])
    if isinstance(value, list) and value:
        return any(_null_at(item, parts) for item in value)
    return True  # no document on the way: the field is missing


def _fix_null_equality() -> None:
    """Fix (k): ``{"f": null}`` in the Python matcher matches a stored null.

    Upstream's Python matcher drops null values while it resolves the path, so
    ``{"f": null}`` matched only a missing ``f`` (its SQL translation is right). Every
    filter with ``$or``/``$and`` runs there: FireWorks' worker query (``{"spec._fworker":
    null}`` in an ``$or``) never found a firework whose ``_fworker`` is null.
    """
    from neosqlite.collection.query_helper.query_builder import QueryBuilderMixin

    original_apply = QueryBuilderMixin._apply_query

    def apply_query(self: Any, query: dict[str, Any], document: dict[str, Any]) -> bool:
        if document is None or not isinstance(query, dict):
            return original_apply(self, query, document)
        nulls = [k for k, v in query.items() if v is None and not str(k).startswith("$")]
        if not nulls:
            return original_apply(self, query, document)
        if not all(_null_at(document, key.split(".")) for key in nulls):
            return False
        return original_apply(self, {k: v for k, v in query.items() if k not in nulls}, document)

    QueryBuilderMixin._apply_query = apply_query


# --- (l) a number never equals a boolean -------------------------------------------------

# a value read out of the stored JSON (json_extract of a path, the value column of
# json_each) compared with bound parameters, as neosqlite's three SQL builders write it
_SQL_COMPARISON = re.compile(
    r"(?:jsonb?_extract\((?P<doc>[\w.]+), (?P<path>'[^']*')\)"
    r"|(?<![\w.])(?P<each>json_each\.)?value(?![\w.(]))"
    r" (?P<op>=|!=|<>|<=|>=|<|>|IS NOT|NOT IN|IN) (?P<rhs>\?|\((?:\?, )*\?\))"
)
NEGATED_SQL_OPERATORS = ("!=", "<>", "IS NOT", "NOT IN")


def _numbers_only_bools_apart(sql: str, params: list) -> str:
    """``sql`` where a comparison with a number no longer sees a stored bool.

    ``X = ?`` (``<``, ``IN (?, ?)`` ...) becomes ``(X = ? AND <type of X> NOT IN
    ('true', 'false'))``; a negated one (``!=``, ``IS NOT``, ``NOT IN``) becomes
    ``(X != ? OR <type of X> IN ('true', 'false'))``. Only comparisons whose
    parameters hold a number change; the parameters stay as they are.
    """

    def guarded(match: re.Match) -> str:
        first = sql.count("?", 0, match.start("rhs"))
        if not any(_is_number(p) for p in params[first : first + match["rhs"].count("?")]):
            return match[0]
        if match["doc"]:
            kind = f"json_type({match['doc']}, {match['path']})"
        else:
            kind = "json_each.type" if match["each"] else "type"
        if match["op"] in NEGATED_SQL_OPERATORS:
            return f"({match[0]} OR {kind} IN ('true', 'false'))"
        return f"({match[0]} AND {kind} NOT IN ('true', 'false'))"

    return _SQL_COMPARISON.sub(guarded, sql)


def _compares_numbers(query: Any) -> bool:
    """True for a filter with a number to compare with (``$expr`` stays upstream's)."""
    return _any_leaf(query, _is_number) and "'$expr'" not in repr(query)


def _fix_number_bool_equality() -> None:
    """Fix (l): a filter comparing with a number never matches a stored bool.

    ``json_extract`` reads JSON true/false as 1/0, so ``{"n": 1}``, ``{"n": {"$in":
    [0, 2]}}`` or ``{"n": {"$gt": 0}}`` matched stored booleans and ``{"n": {"$ne": 1}}``
    missed a stored ``true``. The SQL stays SQL (``fw_id`` lookups are numbers): each
    comparison with a number is narrowed by the stored value's ``json_type`` (see
    :func:`_numbers_only_bools_apart`), in ``find``/``count``/``update``/``delete``
    filters and ``$match`` stages, indexed or not. In the Python matcher the numbers
    of a filter compare as :class:`_Typed`.
    """
    from neosqlite.collection._stage_builders import StageBuildersMixin
    from neosqlite.collection.query_helper._sql_query_builder import SqlQueryBuilderMixin
    from neosqlite.collection.query_helper.query_builder import QueryBuilderMixin
    from neosqlite.collection.sql_translator_unified import SQLTranslator

    original_where = SqlQueryBuilderMixin._build_simple_where_clause
    original_translate = SQLTranslator.translate_match
    original_stage = StageBuildersMixin._build_match_sql
    original_apply = QueryBuilderMixin._apply_query

    def build_simple_where_clause(self: Any, query: dict[str, Any]) -> tuple | None:
        result = original_where(self, query)
        if result is None or not _compares_numbers(query):
            return result
        where, params, tables = result
        return _numbers_only_bools_apart(where, params), params, tables

    def translate_match(self: Any, match_spec: Any, *args: Any, **kwargs: Any) -> tuple:
        where, params = original_translate(self, match_spec, *args, **kwargs)
        if where is None or not _compares_numbers(match_spec):
            return where, params
        return _numbers_only_bools_apart(where, params), params

    def build_match_sql(self: Any, spec: Any, *args: Any, **kwargs: Any) -> tuple:
        sql, params = original_stage(self, spec, *args, **kwargs)
        if sql is None or not _compares_numbers(spec):
            return sql, params
        return _numbers_only_bools_apart(sql, params), params

    def apply_query(self: Any, query: dict[str, Any], document: dict[str, Any]) -> bool:
        return original_apply(self, _strict_values(query, _is_number) or query, document)

    SqlQueryBuilderMixin._build_simple_where_clause = build_simple_where_clause
    SQLTranslator.translate_match = translate_match
    StageBuildersMixin._build_match_sql = build_match_sql
    QueryBuilderMixin._apply_query = apply_query


# --- (m) $ne in updates and deletes matches a missing field ------------------------------


def _fix_ne_missing_field() -> None:
    """Fix (m): ``{"f": {"$ne": v}}`` matches documents without ``f`` in every command.

    The translator of updates, deletes and ``find_one_and_*`` wrote ``$ne`` as ``f !=
    ?``, which is NULL (no match) for a missing ``f``; ``find`` writes ``IS NOT``, as
    MongoDB answers. Both now write ``IS NOT``.
    """
    from neosqlite.collection.sql_translator_unified import SQLOperatorTranslator

    original = SQLOperatorTranslator.translate_operator

    def translate_operator(self: Any, field_access: str, operator: str, value: Any) -> tuple:
        sql, params = original(self, field_access, operator, value)
        if operator == "$ne" and sql is not None:
            sql = sql.replace(" != ", " IS NOT ", 1)
        return sql, params

    SQLOperatorTranslator.translate_operator = translate_operator


def apply_patches(query_timeout_s: float = DEFAULT_QUERY_TIMEOUT_S) -> None:
    """Apply the fixes to the imported neosqlite / nx_27017 modules."""
    _fix_id_indexes()
    _fix_array_membership()
    _fix_or_brackets()
    _fix_group_document_id()
    _fix_dotted_projection()
    _fix_object_id_fields()
    _fix_requests(query_timeout_s)
    _fix_booleans()
    _fix_null_equality()
    _fix_number_bool_equality()
    _fix_ne_missing_field()


def main(argv: list[str]) -> None:
    """Apply the fixes (unless ``--unpatched``) and run the nx-27017 server.

    ``--query-timeout-s S`` (ionflow's option, removed before nx-27017 sees the
    arguments) sets the time limit of reads without ``maxTimeMS``.
    """
    argv = list(argv)
    query_timeout_s = DEFAULT_QUERY_TIMEOUT_S
    if "--query-timeout-s" in argv:
        at = argv.index("--query-timeout-s")
        query_timeout_s = float(argv[at + 1])
        del argv[at : at + 2]
    if "--unpatched" in argv:
        argv = [a for a in argv if a != "--unpatched"]
    else:
        apply_patches(query_timeout_s)
    from nx_27017.nx_27017 import main as nx_main

    sys.argv = ["nx-27017", *argv]
    sys.exit(nx_main())


if __name__ == "__main__":
    main(sys.argv[1:])
