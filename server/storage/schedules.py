"""Schedule, override and calendar feed rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from server.storage.tables import calendar_feeds, schedule_overrides, schedules


async def window_rows(
    conn: AsyncConnection, owner_id: str, start: int, end: int
) -> tuple[list[RowMapping], Sequence[RowMapping]]:
    """Return the owner's series and overrides a window [start, end) needs, from the database.

    The series are those that may have something in the window, then those only
    an override brings in (an occurrence moved beyond its series' own span is
    found by its new time); ``rows_in_window`` is the same selection in Python.
    """
    candidates = list(await series_in_window(conn, owner_id, start, end))
    longest = max((r["end_at"] - r["start_at"] for r in candidates), default=0)
    overrides = await overrides_in_window(conn, owner_id, start, end, longest)
    known = {r["id"] for r in candidates}
    extra = sorted({o["series_id"] for o in overrides} - known)
    candidates += await series_by_ids(conn, owner_id, extra)
    return candidates, overrides


def rows_in_window(
    series: Sequence[RowMapping], overrides: Sequence[RowMapping], start: int, end: int
) -> tuple[list[RowMapping], list[RowMapping]]:
    """Select from all of an owner's series and overrides what ``window_rows`` would read.

    ``series`` in (start_at, id) order, as ``all_series`` gives them; the
    predicates are those of ``series_in_window`` and ``overrides_in_window``.
    """
    candidates = [
        r
        for r in series
        if r["start_at"] < end and (r["last_end"] is None or r["last_end"] > start)
    ]
    longest = max((r["end_at"] - r["start_at"] for r in candidates), default=0)
    picked = [o for o in overrides if _override_in_window(o, start, end, longest)]
    known = {r["id"] for r in candidates}
    extra = {o["series_id"] for o in picked} - known
    if extra:
        by_id = {r["id"]: r for r in series}
        candidates += [by_id[i] for i in sorted(extra) if i in by_id]
    return candidates, picked


def _override_in_window(o: RowMapping, start: int, end: int, longest_ms: int) -> bool:
    if o["start_at"] < end and o["end_at"] > start:
        return True
    return bool(start - longest_ms < o["original_start"] < end)


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
    """Insert an occurrence's override, or update the one it has, with the values given."""
    if existing is None:
        await conn.execute(schedule_overrides.insert().values(**values))
        return
    stmt = (
        update(schedule_overrides)
        .where(
            schedule_overrides.c.series_id == existing["series_id"],
            schedule_overrides.c.original_start == existing["original_start"],
        )
        .values(**values)
    )
    await conn.execute(stmt)


async def raise_series_version(conn: AsyncConnection, series_id: str, by: int) -> None:
    """Add ``by`` to a series' version (past those of the overrides it dropped)."""
    stmt = update(schedules).where(schedules.c.id == series_id)
    await conn.execute(stmt.values(version=schedules.c.version + by))


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


async def all_series(
    conn: AsyncConnection, owner_id: str, limit: int | None = None
) -> Sequence[RowMapping]:
    """Return every schedule of the owner (for the feed), oldest first; at most ``limit``."""
    stmt = (
        select(schedules)
        .where(schedules.c.owner_id == owner_id)
        .order_by(schedules.c.start_at, schedules.c.id)
        .limit(limit)
    )
    return (await conn.execute(stmt)).mappings().all()


async def all_overrides(
    conn: AsyncConnection, owner_id: str, limit: int | None = None
) -> Sequence[RowMapping]:
    """Return every override of the owner's series; at most ``limit``."""
    stmt = select(schedule_overrides).where(schedule_overrides.c.owner_id == owner_id)
    return (await conn.execute(stmt.limit(limit))).mappings().all()
