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
"""

from __future__ import annotations

import copy
import inspect
import sys
from typing import Any

PATCH_VERSIONS = {"nx-27017": "0.8.1", "neosqlite": "1.17.2"}


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


def apply_patches() -> None:
    """Apply the fixes to the imported neosqlite / nx_27017 modules."""
    _fix_id_indexes()
    _fix_array_membership()
    _fix_or_brackets()
    _fix_group_document_id()
    _fix_dotted_projection()


def main(argv: list[str]) -> None:
    """Apply the fixes (unless ``--unpatched``) and run the nx-27017 server."""
    if "--unpatched" in argv:
        argv = [a for a in argv if a != "--unpatched"]
    else:
        apply_patches()
    from nx_27017.nx_27017 import main as nx_main

    sys.argv = ["nx-27017", *argv]
    sys.exit(nx_main())


if __name__ == "__main__":
    main(sys.argv[1:])
