"""Keyset batches for exports: each batch is one short query, so nothing is held between them."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, select, tuple_
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from server.storage import driver
from server.storage.driver import on_driver
from server.storage.tables import tags, timers
from server.storage.tag_links import having_all_tags


@dataclass(frozen=True)
class TimerFilter:
    """Which timers an export holds: started in [start_ms, end_ms), statuses, all of tag_ids."""

    start_ms: int | None = None
    end_ms: int | None = None
    statuses: Sequence[str] = ()
    tag_ids: Sequence[str] = ()


def timer_selection(owner_id: str, columns: Sequence[str], where: TimerFilter) -> Select[Any]:
    """Select the owner's timers an export holds, in creation order (the index's)."""
    stmt = select(*(timers.c[name] for name in columns), timers.c.created_at)
    clauses: list[ColumnElement[bool]] = [timers.c.owner_id == owner_id]
    if where.start_ms is not None:
        clauses.append(timers.c.started_at >= where.start_ms)
    if where.end_ms is not None:
        clauses.append(timers.c.started_at < where.end_ms)
    if where.statuses:
        clauses.append(timers.c.status.in_(list(where.statuses)))
    if where.tag_ids:
        clauses.append(timers.c.id.in_(having_all_tags("timer", where.tag_ids)))
    return stmt.where(*clauses)


TIMER_KEY = (timers.c.created_at, timers.c.id)


def keyset_page(
    stmt: Select[Any], key: Sequence[Any], after: Sequence[Any] | None, limit: int
) -> Select[Any]:
    """Return ``stmt``'s next ``limit`` rows past the keyset position ``after``, in key order.

    ``key`` is the columns of a unique index the owner's rows are scanned by;
    ``after`` their values in the previous page's last row.
    """
    if after is not None:
        values = [bindparam(None, v, type_=col.type) for col, v in zip(key, after, strict=True)]
        stmt = stmt.where(tuple_(*key) > tuple_(*values) if len(key) > 1 else key[0] > values[0])
    return stmt.order_by(*key).limit(limit)


async def read_mappings(conn: AsyncConnection, stmt: Select[Any]) -> Sequence[RowMapping]:
    """Return the rows of ``stmt`` as mappings."""
    return (await conn.execute(stmt)).mappings().all()


async def read_tuples(conn: AsyncConnection, stmt: Select[Any]) -> Sequence[Sequence[Any]]:
    """Return the rows of ``stmt`` as tuples, on PostgreSQL without SQLAlchemy's row layer.

    SQLAlchemy's rows cost 2-4 us each on top of asyncpg's decoding, as much as
    formatting a CSV row; an export reads a million of them.
    """
    if on_driver(conn):
        return await driver.fetch(conn, stmt)
    return (await conn.execute(stmt)).all()


async def tag_names(
    conn: AsyncConnection, owner_id: str, tag_ids: Collection[str]
) -> dict[str, str]:
    """Return the names of the owner's tags among ``tag_ids``."""
    stmt = select(tags.c.id, tags.c.name).where(
        tags.c.owner_id == owner_id, tags.c.id.in_(list(tag_ids))
    )
    return {row.id: row.name for row in await conn.execute(stmt)}
