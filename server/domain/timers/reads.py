"""Timer reads shared by commands and REST: the caller's own, or another user's they may see."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from schema.commands.timers import TimerListData
from server.clock import iso_ms, now_ms
from server.domain.context import Services
from server.domain.paging import decode_cursor, encode_cursor, parse_instant, views_yielding
from server.domain.timers.logic import HISTORY_MAX, timer_view
from server.domain.visibility.access import Access
from server.domain.visibility.shared import for_viewer, list_access, load_visible, visible_rows
from server.storage import timers as store
from server.storage.tables import timers


async def get_timer_view(services: Services, viewer_id: str, timer_id: str) -> dict[str, Any]:
    """Return a timer the viewer owns or may see; anything else is not_found, missing or not."""
    async with services.db.read() as conn:
        row, access = await load_visible(conn, timers, "timer", viewer_id, timer_id)
        histories = await histories_of(conn, [row])
    return for_viewer(timer_view(row, now_ms(), histories[row["id"]]), access)


async def list_timer_views(
    services: Services, viewer_id: str, query: TimerListData, max_limit: int | None = None
) -> dict[str, Any]:
    """Return a page of timers, newest first, and the cursor of the next page.

    Without ``owner_id`` (or with the viewer's own) the page is the viewer's
    timers. With another owner it holds only the timers the viewer may see:
    SQL keeps the levels the viewer's relation might reach (none for a blocked
    pair: an empty page), then the predicate decides ``selected`` and
    ``allowed_emails`` rows. The cursor is the last row *scanned*, so such a
    page may hold fewer than ``limit`` items (even none) while ``next_cursor``
    is set; a client pages on until ``next_cursor`` is null.
    """
    limit = min(query.limit, max_limit) if max_limit else query.limit
    after = decode_cursor(query.cursor, (int, str)) if query.cursor else None
    start_ms = parse_instant(query.start, "from")
    end_ms = parse_instant(query.to, "to")
    async with services.db.read() as conn:
        access = await list_access(conn, viewer_id, query.owner_id)
        if not access.levels:
            return {"items": [], "next_cursor": None, "server_time": iso_ms(now_ms())}
        rows = await store.list_timers(
            conn,
            access.owner_id,
            status=query.status,
            kind=query.type,
            start_ms=start_ms,
            end_ms=end_ms,
            after=after,
            limit=limit + 1,
            levels=None if access.own else access.levels,
        )
        page = visible_rows(rows[:limit], access)
        histories = await histories_of(conn, page)
    now = now_ms()
    next_cursor = (
        encode_cursor([rows[limit - 1]["created_at"], rows[limit - 1]["id"]])
        if len(rows) > limit
        else None
    )
    return {
        "items": await views_yielding(page, lambda row: _view(row, now, histories, access)),
        "next_cursor": next_cursor,
        "server_time": iso_ms(now),
    }


async def active_timer_views(
    services: Services, viewer_id: str, owner_id: str | None = None
) -> dict[str, Any]:
    """Return the RUNNING and PAUSED timers of the viewer, or those of ``owner_id`` they may see."""
    async with services.db.read() as conn:
        access = await list_access(conn, viewer_id, owner_id)
        rows = (
            await store.list_active_timers(
                conn, access.owner_id, levels=None if access.own else access.levels
            )
            if access.levels
            else []
        )
        shown = visible_rows(rows, access)
        histories = await histories_of(conn, shown)
    now = now_ms()
    return {
        "items": [_view(row, now, histories, access) for row in shown],
        "server_time": iso_ms(now),
    }


async def histories_of(conn: AsyncConnection, rows: Sequence[RowMapping]) -> dict[str, str]:
    """Return each timer's shown history (its newest HISTORY_MAX entries as a JSON array)
    by id; ``rows`` are timer rows."""
    return await store.read_histories(conn, store.history_counts(rows), HISTORY_MAX)


def _view(row: RowMapping, now: int, histories: dict[str, str], access: Access) -> dict[str, Any]:
    """Return a timer as ``access`` lets its viewer see it, with its history."""
    return for_viewer(timer_view(row, now, histories[row["id"]]), access)
