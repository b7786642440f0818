"""Owned-row reads and writes shared by the resource tables (id, owner_id, version)."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import (
    Select,
    Table,
    any_,
    bindparam,
    delete,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ColumnElement

from server.storage import driver
from server.storage.driver import inline_of, on_driver, run_inline


def one_of(conn: AsyncConnection, column: Any, values: Iterable[Any]) -> ColumnElement[bool]:
    """Return ``column IN values``; on PostgreSQL ``column = ANY(<one array>)``.

    An IN list is a statement per count of values: SQLAlchemy expands and the
    server prepares each again, which made a batched read of a reconnect storm
    cost more the smaller its batch. One array parameter is one statement.
    """
    if conn.dialect.name == "postgresql":
        return column == any_(literal(list(values), ARRAY(column.type)))
    return column.in_(list(values))


@functools.cache
def _where_any(stmt: Select[Any], columns: tuple[Any, ...]) -> Select[Any]:
    values = bindparam("b_one_of", type_=ARRAY(columns[0].type))
    return stmt.where(or_(*(column == any_(values) for column in columns)))


async def rows_one_of(
    conn: AsyncConnection,
    stmt: Select[Any],
    column: Any,
    values: Iterable[Any],
    *,
    also: tuple[Any, ...] = (),
) -> Sequence[Any]:
    """Return the rows of the prebuilt ``stmt`` whose ``column`` (or one of the ``also``
    columns) is one of ``values``.

    On PostgreSQL it runs on the driver with the values as one array parameter:
    a batched read of a reconnect storm neither builds nor compiles a statement.
    Rows read by column name (``row["id"]``).
    """
    columns = (column, *also)
    if on_driver(conn):
        return await run_prebuilt(conn, _where_any(stmt, columns), {"b_one_of": list(values)})
    values = list(values)
    where = or_(*(one_of(conn, each, values) for each in columns))
    return (await conn.execute(stmt.where(where))).mappings().all()


async def run_prebuilt(conn: AsyncConnection, stmt: Any, params: dict[str, Any]) -> Sequence[Any]:
    """Run a statement built once (a module constant or a cached one), on the driver
    when the connection allows; return its rows, read by column name."""
    if on_driver(conn):
        return await driver.fetch(conn, stmt, params, cache=True)
    result = await conn.execute(stmt, params)
    return result.mappings().all() if result.returns_rows else []


async def write_count(conn: AsyncConnection, stmt: Any, params: dict[str, Any]) -> int:
    """Run a writing statement built once; return how many rows it wrote. On SQLite's
    writer it goes to sqlite3 directly (``driver.run_inline``)."""
    inline = inline_of(conn)
    if inline is not None:
        return int((await run_inline(inline, conn, stmt, params)).rowcount)
    return int((await conn.execute(stmt, params)).rowcount)


async def write_returning(conn: AsyncConnection, stmt: Any, params: dict[str, Any]) -> Any:
    """Run a writing statement built once that returns one row; return its first value."""
    inline = inline_of(conn)
    if inline is not None:
        return (await run_inline(inline, conn, stmt, params)).fetchall()[0][0]
    return (await conn.execute(stmt, params)).scalar_one()


@functools.cache
def _get_statement(table: Table, for_update: bool) -> Any:
    stmt = select(table).where(
        table.c.id == bindparam("b_id"), table.c.owner_id == bindparam("b_owner")
    )
    return stmt.with_for_update() if for_update else stmt


@functools.cache
def _update_statement(table: Table) -> Any:
    return update(table).where(table.c.id == bindparam("b_id")).values(version=table.c.version + 1)


async def get_owned(
    conn: AsyncConnection, table: Table, owner_id: str, ident: str, *, for_update: bool = False
) -> RowMapping | None:
    """Return the owner's row ``ident`` (locked when asked), or None."""
    stmt = _get_statement(table, for_update)
    return (await conn.execute(stmt, {"b_id": ident, "b_owner": owner_id})).mappings().first()


async def owned_ids(
    conn: AsyncConnection, table: Table, owner_id: str, idents: Iterable[str]
) -> set[str]:
    """Return which of ``idents`` are rows of the owner."""
    wanted = list(idents)
    if not wanted:
        return set()
    stmt = select(table.c.id).where(table.c.owner_id == owner_id, table.c.id.in_(wanted))
    return {row.id for row in await conn.execute(stmt)}


async def insert_row(conn: AsyncConnection, table: Table, values: dict[str, Any]) -> None:
    """Insert one row."""
    await conn.execute(insert(table).values(**values))


def replaced_columns(table: Table) -> list[str]:
    """Return the columns a put replaces: every one outside the primary key."""
    keys = set(table.primary_key.columns.keys())
    return [column.name for column in table.columns if column.name not in keys]


def put_cte(index: int, table: Table, columns: Sequence[str], values: str, source: str) -> str:
    """Return the PostgreSQL CTE ``put_<index>`` that inserts ``values`` (selected
    ``source``) into ``columns`` of ``table``, replacing the row under its key."""
    keys_of = ", ".join(table.primary_key.columns.keys())
    replaced = ", ".join(f"{name} = EXCLUDED.{name}" for name in replaced_columns(table))
    return (
        f"put_{index} AS (INSERT INTO {table.name} ({', '.join(columns)}) SELECT {values}"
        f" {source} ON CONFLICT ({keys_of}) DO UPDATE SET {replaced})"
    )


@functools.cache
def _put_statement(dialect: str, table: Table) -> Any:
    stmt = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    replaced = {name: stmt.excluded[name] for name in replaced_columns(table)}
    return stmt.on_conflict_do_update(
        index_elements=list(table.primary_key.columns.keys()), set_=replaced
    )


async def put_row(conn: AsyncConnection, table: Table, values: dict[str, Any]) -> None:
    """Insert one row (every column), or replace the row under its primary key."""
    await write_count(conn, _put_statement(conn.dialect.name, table), values)


@functools.cache
def _update_at_version_statement(table: Table) -> Any:
    return _update_statement(table).where(table.c.version == bindparam("b_version"))


async def update_row(
    conn: AsyncConnection,
    table: Table,
    ident: str,
    values: dict[str, Any],
    at_version: int | None = None,
) -> bool:
    """Write changed fields (the SET clause follows the keys) and bump the version.

    With ``at_version`` the row is written only while it still has that version;
    False when it did not (another writer came first).
    """
    if at_version is None:
        await write_count(conn, _update_statement(table), {**values, "b_id": ident})
        return True
    params = {**values, "b_id": ident, "b_version": at_version}
    return bool(await write_count(conn, _update_at_version_statement(table), params))


async def delete_rows(conn: AsyncConnection, table: Table, idents: Sequence[str]) -> None:
    """Delete rows by id."""
    if idents:
        await conn.execute(delete(table).where(table.c.id.in_(list(idents))))
