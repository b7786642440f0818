"""Statements run on the driver itself where SQLAlchemy's execution layer is pure cost.

SQLAlchemy Core builds every statement; on PostgreSQL, a hot statement on a
connection outside any transaction (``Database.read``, ``Database.one_statement``)
can skip the layer that turns it into a cursor call and its rows into Row
objects: it is compiled once, and asyncpg gets the SQL and the arguments. Inside
a transaction SQLAlchemy's connection keeps the statements (it owns BEGIN).

On SQLite the writer's connection runs its calls inline (``sqlite_inline``), and
a transaction is the connection's own (sqlite3 begins it before the first write;
SQLAlchemy commits it): its writes go to sqlite3 directly (``run_inline``), each
compiled once for the parameter names it is given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ClauseElement

from server.storage.sqlite_inline import InlineConnection

# SQL, parameter names in order, bound values, and bind conversions by name.
Compiled = tuple[str, tuple[str, ...], Mapping[str, Any], Mapping[str, Any]]

# Prebuilt statements only (module constants, functools.cache results): they live
# as long as the process, so keying by the object holds nothing that would be freed.
# The key's names are those an INSERT or UPDATE was given (its columns follow them).
_COMPILED: dict[tuple[ClauseElement, tuple[str, ...] | None], Compiled] = {}


def on_driver(conn: AsyncConnection) -> bool:
    """Tell whether statements on ``conn`` may go to asyncpg directly (PostgreSQL, autocommit)."""
    sync = conn.sync_connection
    if conn.dialect.driver != "asyncpg" or sync is None:
        return False
    return sync.get_execution_options().get("isolation_level") == "AUTOCOMMIT"


def driver_of(conn: AsyncConnection) -> Any:
    """Return the asyncpg connection under an open ``conn`` (no I/O, unlike
    ``get_raw_connection``, which spawns a greenlet to ask)."""
    return conn.sync_connection.connection.driver_connection  # type: ignore[union-attr]


def compile_for_driver(
    conn: AsyncConnection,
    stmt: ClauseElement,
    keys: tuple[str, ...] | None = None,
    *,
    cache: bool = False,
) -> Compiled:
    """Return the statement's SQL, its parameter names in order, its bound values and
    its bind conversions (compiled for the parameter names ``keys`` when given)."""
    found = _COMPILED.get((stmt, keys)) if cache else None
    if found is None:
        columns = None if keys is None else list(keys)
        compiled = stmt.compile(
            dialect=conn.dialect, column_keys=columns, compile_kwargs={"render_postcompile": True}
        )
        names = tuple(getattr(compiled, "positiontup", None) or ())
        conversions = getattr(compiled, "_bind_processors", {})
        found = (compiled.string, names, compiled.params, conversions)
        if cache:
            _COMPILED[(stmt, keys)] = found
    return found


def _values(names: Sequence[str], bound: Mapping[str, Any], given: Mapping[str, Any]) -> list[Any]:
    return [given[name] if name in given else bound[name] for name in names]


async def fetch(
    conn: AsyncConnection,
    stmt: ClauseElement,
    params: Mapping[str, Any] | None = None,
    *,
    cache: bool = False,
) -> Sequence[Any]:
    """Run ``stmt`` with ``params`` (over its bound values) on the driver; return its records.

    Records read like rows (``record["column"]``, ``dict(record)``) and like tuples.
    """
    sql, names, bound, _conversions = compile_for_driver(conn, stmt, cache=cache)
    return await driver_of(conn).fetch(sql, *_values(names, bound, params or {}))


def inline_of(conn: AsyncConnection) -> InlineConnection | None:
    """Return SQLite's inline writer connection under ``conn``, or None (any other)."""
    if conn.dialect.name != "sqlite" or conn.sync_connection is None:
        return None
    found = driver_of(conn)
    return found if isinstance(found, InlineConnection) else None


async def run_inline(
    inline: InlineConnection, conn: AsyncConnection, stmt: ClauseElement, params: Mapping[str, Any]
) -> Any:
    """Run a prebuilt statement with ``params`` on SQLite's inline writer; return its
    sqlite3 cursor (``rowcount``, ``fetchone``)."""
    sql, names, bound, conversions = compile_for_driver(conn, stmt, tuple(params), cache=True)
    args = [
        value if value is None or name not in conversions else conversions[name](value)
        for name, value in zip(names, _values(names, bound, params), strict=True)
    ]
    return await inline.run_sql(sql, args)
