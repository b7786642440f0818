"""Timer reads shared by commands and REST."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import RowMapping

from schema.commands.timers import TimerListData
from server.clock import iso_ms, now_ms
from server.domain.context import Services
from server.domain.paging import decode_cursor, encode_cursor, parse_instant
from server.domain.timers.logic import timer_view
from server.errors import not_found
from server.storage import timers as store


async def get_timer_view(services: Services, owner_id: str, timer_id: str) -> dict[str, Any]:
    """Return one of the owner's timers."""
    async with services.db.read() as conn:
        row = await store.get_timer(conn, owner_id, timer_id)
    if row is None:
        raise not_found("timer", timer_id)
    return timer_view(row, now_ms())


async def list_timer_views(
    services: Services, owner_id: str, query: TimerListData, max_limit: int | None = None
) -> dict[str, Any]:
    """Return a page of the owner's timers, newest first, and the cursor of the next page."""
    limit = min(query.limit, max_limit) if max_limit else query.limit
    after = decode_cursor(query.cursor) if query.cursor else None
    async with services.db.read() as conn:
        rows = await store.list_timers(
            conn,
            owner_id,
            status=query.status,
            kind=query.type,
            start_ms=parse_instant(query.start, "from"),
            end_ms=parse_instant(query.to, "to"),
            after=after,
            limit=limit + 1,
        )
    now = now_ms()
    page = rows[:limit]
    next_cursor = (
        encode_cursor(page[-1]["created_at"], page[-1]["id"]) if len(rows) > limit else None
    )
    return {
        "items": await views_yielding(page, now),
        "next_cursor": next_cursor,
        "server_time": iso_ms(now),
    }


# Rows turned into views between two yields to the event loop: a 5,000-timer page
# then blocks other requests for a few milliseconds at a time, not for its whole build.
VIEW_CHUNK = 250


async def views_yielding(rows: Sequence[RowMapping], now: int) -> list[dict[str, Any]]:
    """Build timer views, yielding to the event loop between chunks."""
    views: list[dict[str, Any]] = []
    for start in range(0, len(rows), VIEW_CHUNK):
        if start:
            await asyncio.sleep(0)
        views.extend(timer_view(row, now) for row in rows[start : start + VIEW_CHUNK])
    return views


async def active_timer_views(services: Services, owner_id: str) -> dict[str, Any]:
    """Return the owner's RUNNING and PAUSED timers."""
    async with services.db.read() as conn:
        rows = await store.list_active_timers(conn, owner_id)
    now = now_ms()
    return {"items": [timer_view(row, now) for row in rows], "server_time": iso_ms(now)}
