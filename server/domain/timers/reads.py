"""Timer reads shared by commands and REST."""

from __future__ import annotations

from typing import Any

from schema.commands.timers import TimerListData
from server.clock import iso_ms, now_ms
from server.domain.context import Services
from server.domain.paging import decode_cursor, encode_cursor, parse_instant, views_yielding
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
    after = decode_cursor(query.cursor, (int, str)) if query.cursor else None
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
        encode_cursor([page[-1]["created_at"], page[-1]["id"]]) if len(rows) > limit else None
    )
    return {
        "items": await views_yielding(page, lambda row: timer_view(row, now)),
        "next_cursor": next_cursor,
        "server_time": iso_ms(now),
    }


async def active_timer_views(services: Services, owner_id: str) -> dict[str, Any]:
    """Return the owner's RUNNING and PAUSED timers."""
    async with services.db.read() as conn:
        rows = await store.list_active_timers(conn, owner_id)
    now = now_ms()
    return {"items": [timer_view(row, now) for row in rows], "server_time": iso_ms(now)}
