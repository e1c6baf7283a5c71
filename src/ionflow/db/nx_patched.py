"""Start the nx-27017 MongoDB wire-protocol server with ionflow's three fixes applied.

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
"""

from __future__ import annotations

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


def apply_patches() -> None:
    """Apply the three fixes to the imported neosqlite / nx_27017 modules."""
    _fix_id_indexes()
    _fix_array_membership()
    _fix_or_brackets()


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
