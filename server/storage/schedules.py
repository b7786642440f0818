"""Schedule, override and calendar feed rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from server.storage.tables import calendar_feeds, schedule_overrides, schedules


async def series_in_window(
    conn: AsyncConnection, owner_id: str, start: int, end: int
) -> Sequence[RowMapping]:
    """Return the owner's schedules that may have something in [start, end)."""
    stmt = (
        select(schedules)
        .where(
            schedules.c.owner_id == owner_id,
            schedules.c.start_at < end,
            or_(schedules.c.last_end.is_(None), schedules.c.last_end > start),
        )
        .order_by(schedules.c.start_at, schedules.c.id)
    )
    return (await conn.execute(stmt)).mappings().all()


async def series_by_ids(
    conn: AsyncConnection, owner_id: str, ids: Sequence[str]
) -> Sequence[RowMapping]:
    """Return the owner's schedules with these ids."""
    if not ids:
        return []
    stmt = select(schedules).where(schedules.c.owner_id == owner_id, schedules.c.id.in_(list(ids)))
    return (await conn.execute(stmt)).mappings().all()


async def overrides_in_window(
    conn: AsyncConnection, owner_id: str, start: int, end: int, longest_ms: int
) -> Sequence[RowMapping]:
    """Return overrides whose occurrence or whose new time may overlap [start, end)."""
    stmt = select(schedule_overrides).where(
        schedule_overrides.c.owner_id == owner_id,
        or_(
            and_(schedule_overrides.c.start_at < end, schedule_overrides.c.end_at > start),
            and_(
                schedule_overrides.c.original_start < end,
                schedule_overrides.c.original_start > start - longest_ms,
            ),
        ),
    )
    return (await conn.execute(stmt)).mappings().all()


async def overrides_of(conn: AsyncConnection, series_id: str) -> Sequence[RowMapping]:
    """Return every override of a series, by original start."""
    stmt = (
        select(schedule_overrides)
        .where(schedule_overrides.c.series_id == series_id)
        .order_by(schedule_overrides.c.original_start)
    )
    return (await conn.execute(stmt)).mappings().all()


async def get_override(
    conn: AsyncConnection, series_id: str, original_start: int
) -> RowMapping | None:
    """Return the override of one occurrence, or None."""
    stmt = select(schedule_overrides).where(
        schedule_overrides.c.series_id == series_id,
        schedule_overrides.c.original_start == original_start,
    )
    return (await conn.execute(stmt)).mappings().first()


async def write_override(
    conn: AsyncConnection, existing: RowMapping | None, values: dict[str, Any]
) -> None:
    """Insert an occurrence's override, or update the one it has (bumping its version)."""
    if existing is None:
        await conn.execute(schedule_overrides.insert().values(**values, version=1))
        return
    stmt = (
        update(schedule_overrides)
        .where(
            schedule_overrides.c.series_id == existing["series_id"],
            schedule_overrides.c.original_start == existing["original_start"],
        )
        .values(**values, version=schedule_overrides.c.version + 1)
    )
    await conn.execute(stmt)


async def delete_overrides(
    conn: AsyncConnection, series_id: str, originals: Sequence[int] | None = None
) -> None:
    """Delete a series' overrides (only those of ``originals`` when given)."""
    stmt = delete(schedule_overrides).where(schedule_overrides.c.series_id == series_id)
    if originals is not None:
        if not originals:
            return
        stmt = stmt.where(schedule_overrides.c.original_start.in_(list(originals)))
    await conn.execute(stmt)


async def series_from_todos(conn: AsyncConnection, todo_ids: Sequence[str]) -> Sequence[RowMapping]:
    """Return the schedules generated from these todos' deadlines."""
    if not todo_ids:
        return []
    stmt = select(schedules).where(schedules.c.source_todo_id.in_(list(todo_ids)))
    return (await conn.execute(stmt.order_by(schedules.c.id))).mappings().all()


async def feed_by_hash(conn: AsyncConnection, token_hash: str) -> RowMapping | None:
    """Return the live (not revoked) feed with this token hash, or None."""
    stmt = select(calendar_feeds).where(
        calendar_feeds.c.token_hash == token_hash, calendar_feeds.c.revoked_at.is_(None)
    )
    return (await conn.execute(stmt)).mappings().first()


async def list_feeds(conn: AsyncConnection, owner_id: str) -> Sequence[RowMapping]:
    """Return the owner's feeds, newest first."""
    stmt = (
        select(calendar_feeds)
        .where(calendar_feeds.c.owner_id == owner_id)
        .order_by(calendar_feeds.c.created_at.desc(), calendar_feeds.c.id)
    )
    return (await conn.execute(stmt)).mappings().all()


async def all_series(conn: AsyncConnection, owner_id: str) -> Sequence[RowMapping]:
    """Return every schedule of the owner (for the feed), oldest first."""
    stmt = (
        select(schedules)
        .where(schedules.c.owner_id == owner_id)
        .order_by(schedules.c.start_at, schedules.c.id)
    )
    return (await conn.execute(stmt)).mappings().all()


async def all_overrides(conn: AsyncConnection, owner_id: str) -> Sequence[RowMapping]:
    """Return every override of the owner's series."""
    stmt = select(schedule_overrides).where(schedule_overrides.c.owner_id == owner_id)
    return (await conn.execute(stmt)).mappings().all()
