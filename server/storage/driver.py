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

Compiled = tuple[str, tuple[str, ...], Mapping[str, Any]]

# Prebuilt statements only (module constants, functools.cache results): they live
# as long as the process, so keying by the object holds nothing that would be freed.
_COMPILED: dict[ClauseElement, Compiled] = {}


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
    conn: AsyncConnection, stmt: ClauseElement, *, cache: bool = False
) -> Compiled:
    """Return the statement's SQL, its parameter names in order, and its bound values."""
    if cache and stmt in _COMPILED:
        return _COMPILED[stmt]
    compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    names = getattr(compiled, "positiontup", None) or ()
    result = (compiled.string, tuple(names), compiled.params)
    if cache:
        _COMPILED[stmt] = result
    return result


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
    sql, names, bound = compile_for_driver(conn, stmt, cache=cache)
    given = params or {}
    args = [given[name] if name in given else bound[name] for name in names]
    return await driver_of(conn).fetch(sql, *args)


# (SQL, parameter names in order, bound values, bind processors by name)
Inline = tuple[str, tuple[str, ...], Mapping[str, Any], Mapping[str, Any]]
_INLINE: dict[tuple[ClauseElement, tuple[str, ...]], Inline] = {}


def inline_of(conn: AsyncConnection) -> InlineConnection | None:
    """Return SQLite's inline writer connection under ``conn``, or None (any other)."""
    if conn.dialect.name != "sqlite" or conn.sync_connection is None:
        return None
    found = driver_of(conn)
    return found if isinstance(found, InlineConnection) else None


def _compile_inline(conn: AsyncConnection, stmt: ClauseElement, keys: tuple[str, ...]) -> Inline:
    found = _INLINE.get((stmt, keys))
    if found is None:
        compiled = stmt.compile(dialect=conn.dialect, column_keys=list(keys))
        names = tuple(getattr(compiled, "positiontup", None) or ())
        processors = getattr(compiled, "_bind_processors", {})
        found = (compiled.string, names, compiled.params, processors)
        _INLINE[(stmt, keys)] = found
    return found


async def run_inline(
    inline: InlineConnection, conn: AsyncConnection, stmt: ClauseElement, params: Mapping[str, Any]
) -> Any:
    """Run a prebuilt statement with ``params`` on SQLite's inline writer; return its
    sqlite3 cursor (``rowcount``, ``fetchone``)."""
    sql, names, bound, processors = _compile_inline(conn, stmt, tuple(params))
    args = []
    for name in names:
        value = params[name] if name in params else bound[name]
        process = processors.get(name)
        args.append(value if process is None or value is None else process(value))
    return await inline.run_sql(sql, args)
