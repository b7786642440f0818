"""Keyset batches for exports: each batch is one short query, so nothing is held between them."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, select, tuple_
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

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


async def read_batch(
    conn: AsyncConnection,
    stmt: Select[Any],
    key: Sequence[Any],
    after: Sequence[Any] | None,
    limit: int,
) -> Sequence[RowMapping]:
    """Return up to ``limit`` rows of ``stmt`` past the keyset position ``after``, in key order.

    ``key`` is the columns of a unique index the owner's rows are scanned by;
    ``after`` their values in the previous batch's last row.
    """
    if after is not None:
        stmt = stmt.where(tuple_(*key) > tuple_(*after) if len(key) > 1 else key[0] > after[0])
    stmt = stmt.order_by(*key).limit(limit)
    return (await conn.execute(stmt)).mappings().all()


async def tag_names(
    conn: AsyncConnection, owner_id: str, tag_ids: Collection[str]
) -> dict[str, str]:
    """Return the names of the owner's tags among ``tag_ids``."""
    stmt = select(tags.c.id, tags.c.name).where(
        tags.c.owner_id == owner_id, tags.c.id.in_(list(tag_ids))
    )
    return {row.id: row.name for row in await conn.execute(stmt)}
