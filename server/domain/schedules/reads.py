"""Schedule reads: one series or occurrence, and windows (paged, or streamed for REST)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy.engine import RowMapping

from schema.commands.schedules import ScheduleListData
from server.domain.context import Services
from server.domain.editing import require_all_owned
from server.domain.paging import decode_cursor, encode_cursor, parse_instant
from server.domain.schedules.expand import SINGLE, Item, window_items
from server.domain.schedules.recurrence import is_occurrence, parse_instance_id
from server.domain.schedules.series import series_of
from server.domain.schedules.views import (
    Formatter,
    OccurrenceViews,
    formatter,
    occurrence_view,
    schedule_view,
)
from server.domain.taggable import require_own_tags
from server.errors import not_found, validation_error
from server.storage import schedules as store
from server.storage.rows import get_owned
from server.storage.tables import schedules, tag_groups
from server.storage.tags import tag_ids_of_groups

# The longest window one read may ask for; a year of 1,000 series is ~150,000 items.
MAX_WINDOW_MS = 3 * 366 * 24 * 3600 * 1000
# Items built between two yields to the event loop while a window streams.
STREAM_CHUNK = 500


@dataclass(frozen=True)
class Window:
    """What a window read needs: the owner's candidate series and overrides, and the bounds."""

    rows: Sequence[RowMapping]
    overrides: Sequence[RowMapping]
    start: int
    end: int
    fmt: Formatter


async def get_schedule_view(services: Services, owner_id: str, ref: str) -> dict[str, Any]:
    """Return a series, or one occurrence of it (as the window lists it)."""
    parsed = parse_instance_id(ref)
    series_id, original = (ref, None) if parsed is None else parsed
    async with services.db.read() as conn:
        row = await get_owned(conn, schedules, owner_id, series_id)
        if row is None:
            raise not_found("schedule", ref)
        if original is None:
            return schedule_view(row)
        override = await store.get_override(conn, series_id, original)
    if row["recurrence_rule"] is None or not is_occurrence(series_of(row), original):
        raise not_found("schedule", ref)
    if override is not None and override["cancelled"]:
        raise not_found("schedule", ref)
    return occurrence_view(row, original, override)


async def list_schedule_views(
    services: Services, owner_id: str, query: ScheduleListData
) -> dict[str, Any]:
    """Return a page of the window's items by start time, and the next page's cursor."""
    after = decode_cursor(query.cursor, (int, str)) if query.cursor else None
    window = await load_window(services, owner_id, query)
    page: list[Item] = []
    for item in window_items(window.rows, window.overrides, window.start, window.end, _key(after)):
        page.append(item)
        if len(page) > query.limit:
            break
    more = len(page) > query.limit
    views = OccurrenceViews(window.fmt)
    items = [item_view(item, views) for item in page[: query.limit]]
    return {
        "items": items,
        "next_cursor": encode_cursor([page[-2][0], items[-1]["id"]]) if more else None,
    }


async def stream_window(
    services: Services, owner_id: str, query: ScheduleListData
) -> AsyncIterator[bytes]:
    """Yield the whole window as JSON text in chunks, yielding to the event loop between them.

    Memory stays flat: the merge holds one pending item per series, and each chunk
    is written before the next is built.
    """
    window = await load_window(services, owner_id, query)
    items = window_items(window.rows, window.overrides, window.start, window.end)
    views = OccurrenceViews(window.fmt)
    yield b'{"items":['
    first = True
    for chunk in _chunks(items):
        # One dumps per chunk: orjson serialises a list of 500 views many times
        # faster than 500 separate calls. [1:-1] drops the list's brackets.
        body = orjson.dumps([item_view(item, views) for item in chunk])[1:-1]
        yield body if first else b"," + body
        first = False
        await asyncio.sleep(0)
    yield b'],"next_cursor":null}'


async def load_window(services: Services, owner_id: str, query: ScheduleListData) -> Window:
    """Read the series and overrides a window needs, tag filters applied to the series."""
    start, end = _bounds(query)
    async with services.db.read() as conn:
        if query.tag_ids:
            await require_own_tags(conn, owner_id, query.tag_ids)
        group_tags = None
        if query.group_ids:
            await require_all_owned(conn, tag_groups, "tag group", owner_id, query.group_ids)
            group_tags = set(await tag_ids_of_groups(conn, query.group_ids))
        candidates = list(await store.series_in_window(conn, owner_id, start, end))
        longest = max((r["end_at"] - r["start_at"] for r in candidates), default=0)
        overrides = await store.overrides_in_window(conn, owner_id, start, end, longest)
        # An occurrence moved beyond its series' own span is found by its new time.
        known = {r["id"] for r in candidates}
        extra = sorted({o["series_id"] for o in overrides} - known)
        candidates += await store.series_by_ids(conn, owner_id, extra)
        rows = [r for r in candidates if _tagged(r, query.tag_ids, group_tags)]
    return Window(rows, overrides, start, end, formatter(query.tz))


def item_view(item: Item, views: OccurrenceViews) -> dict[str, Any]:
    """Build the wire form of a window item."""
    _, _, original, series, override = item
    if original == SINGLE:
        return schedule_view(series, views.fmt)
    return views.view(series, original, override)


def _tagged(row: RowMapping, tag_ids: Sequence[str] | None, group_tags: set[str] | None) -> bool:
    if not tag_ids and group_tags is None:
        return True
    carried = set(orjson.loads(row["tag_ids"]))
    if tag_ids and not carried.issuperset(tag_ids):
        return False
    return group_tags is None or bool(carried & group_tags)


def _bounds(query: ScheduleListData) -> tuple[int, int]:
    start, end = parse_instant(query.start, "start"), parse_instant(query.end, "end")
    if start is None or end is None:  # the model requires both
        raise validation_error("start and end are required", field="start")
    if end <= start:
        raise validation_error("end must be after start", field="end")
    if end - start > MAX_WINDOW_MS:
        raise validation_error("a window spans at most 3 years", field="end")
    return start, end


def _key(after: list[Any] | None) -> tuple[int, str] | None:
    return None if after is None else (after[0], after[1])


def _chunks(items: Iterator[Item]) -> Iterator[list[Item]]:
    chunk: list[Item] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == STREAM_CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
