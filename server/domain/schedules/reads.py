"""Schedule reads: one series or occurrence, and windows (paged, or streamed for REST)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy.engine import RowMapping

from schema.commands.schedules import ScheduleListData
from server.domain.context import Services
from server.domain.editing import require_all_owned
from server.domain.paging import decode_cursor, encode_cursor, parse_instant
from server.domain.schedules.cache import window_rows
from server.domain.schedules.expand import SINGLE, Item, count_items, window_items
from server.domain.schedules.recurrence import is_occurrence, parse_instance_id
from server.domain.schedules.series import series_of
from server.domain.schedules.views import (
    Formatter,
    OccurrenceViews,
    SeriesView,
    Template,
    formatter,
    occurrence_view,
    schedule_view,
)
from server.domain.taggable import require_own_tags
from server.domain.visibility.policy import shared_view, visibility_view
from server.domain.visibility.shared import (
    for_viewer,
    list_access,
    load_visible,
    refuse_private_filters,
)
from server.errors import ApiError, not_found, validation_error
from server.storage import schedules as store
from server.storage.tables import schedules, tag_groups
from server.storage.tags import tag_ids_of_groups

# The longest window one read may ask for; a year of 1,000 series is ~150,000 items.
MAX_WINDOW_MS = 3 * 366 * 24 * 3600 * 1000
# Items built between two yields to the event loop while a window streams.
STREAM_CHUNK = 500


@dataclass(frozen=True)
class Window:
    """What a window read needs: the owner's candidate series and overrides, and the bounds.

    ``templates`` are the views' per-series templates, shared with other reads of
    the same rows in the same zone (see cache.py): they hold the owner's views, so a
    read for another viewer must build its own.
    """

    rows: Sequence[RowMapping]
    overrides: Sequence[RowMapping]
    start: int
    end: int
    fmt: Formatter
    templates: dict[str, Template] = field(default_factory=dict)
    series_view: SeriesView = schedule_view

    def views(self) -> OccurrenceViews:
        """Return the view builder of this window's items."""
        return OccurrenceViews(self.fmt, self.templates, self.series_view)


async def get_schedule_view(services: Services, viewer_id: str, ref: str) -> dict[str, Any]:
    """Return a series, or one occurrence of it (as the window lists it), if the viewer may see it.

    Another user's series is answered when its visibility lets the viewer see it;
    a hidden one is ``not_found``, exactly as a missing one.
    """
    parsed = parse_instance_id(ref)
    series_id, original = (ref, None) if parsed is None else parsed
    async with services.db.read() as conn:
        try:
            row, access = await load_visible(conn, schedules, "schedule", viewer_id, series_id)
        except ApiError:
            raise not_found("schedule", ref) from None
        if original is None:
            return for_viewer(schedule_view(row), access)
        override = await store.get_override(conn, series_id, original)
    if row["recurrence_rule"] is None or not is_occurrence(series_of(row), original):
        raise not_found("schedule", ref)
    if override is not None and override["cancelled"]:
        raise not_found("schedule", ref)
    return for_viewer(occurrence_view(row, original, override), access)


async def list_schedule_views(
    services: Services, viewer_id: str, query: ScheduleListData
) -> dict[str, Any]:
    """Return a page of the window's items by start time, and the next page's cursor."""
    after = decode_cursor(query.cursor, (int, str)) if query.cursor else None
    window = await load_window(services, viewer_id, query)
    # One item more than the page tells whether another page follows.
    page = list(
        window_items(
            window.rows, window.overrides, window.start, window.end, _key(after), query.limit + 1
        )
    )
    more = len(page) > query.limit
    views = window.views()
    items = [item_view(item, views) for item in page[: query.limit]]
    return {
        "items": items,
        "next_cursor": encode_cursor([page[-2][0], items[-1]["id"]]) if more else None,
    }


async def stream_window(
    services: Services, viewer_id: str, query: ScheduleListData, tail: bytes = b""
) -> AsyncGenerator[bytes, None]:
    """Yield the whole window as JSON text in chunks, yielding to the event loop between them.

    Memory stays flat: the expansion holds one month of item keys, and each chunk
    is written before the next is built. A window holding more than the
    setting's cap of items is refused before anything is yielded. ``tail`` (JSON
    members, each after a comma) ends the document: the holiday overlay.
    """
    window = await load_window(services, viewer_id, query)
    _require_streamable(window, services.settings.schedule_window_max_items)
    items = window_items(window.rows, window.overrides, window.start, window.end)
    views = window.views()
    yield b'{"items":['
    for body in _json_chunks(items, views):
        yield body
        await asyncio.sleep(0)
    yield b'],"next_cursor":null' + tail + b"}"


async def load_window(services: Services, viewer_id: str, query: ScheduleListData) -> Window:
    """Read the series and overrides a window needs, tag and visibility filters applied.

    The window is of ``query.owner_id`` (the viewer's own without one); another
    owner's series are those the viewer may see, viewed as a non-owner sees them
    (tag filters name the viewer's own tags, so they apply to the own window only).
    The owner's rows come from the cache while their user topic's head is
    unchanged (cache.py); ``candidates`` are mappings of whole schedules rows.
    """
    start, end = _bounds(query)
    async with services.db.read() as conn:
        access = await list_access(conn, viewer_id, query.owner_id)
        refuse_private_filters(access, tag_ids=query.tag_ids, group_ids=query.group_ids)
        owner_id = access.owner_id
        if query.tag_ids:
            await require_own_tags(conn, owner_id, query.tag_ids)
        group_tags = None
        if query.group_ids:
            await require_all_owned(conn, tag_groups, "tag group", owner_id, query.group_ids)
            group_tags = set(await tag_ids_of_groups(conn, query.group_ids))
        candidates, overrides, templates = await window_rows(
            conn, services.db, owner_id, start, end, query.tz
        )
        rows = [r for r in candidates if _tagged(r, query.tag_ids, group_tags)]
    if access.own:
        return Window(rows, overrides, start, end, formatter(query.tz), templates)
    # The cached templates hold the owner's views (allow-lists): not for others.
    seen = [row for row in rows if access.sees(visibility_view(row))]
    return Window(seen, overrides, start, end, formatter(query.tz), {}, shared_schedule_view)


def shared_schedule_view(row: Mapping[Any, Any], fmt: Formatter) -> dict[str, Any]:
    """Build a series' view for someone other than its owner (the level, no allow-lists)."""
    view = schedule_view(row, fmt)
    return {**view, "visibility": shared_view(view["visibility"])}


def item_view(item: Item, views: OccurrenceViews) -> dict[str, Any]:
    """Build the wire form of a window item."""
    _, _, original, series, override = item
    if original == SINGLE:
        return views.single(series)
    return views.view(series, original, override)


def _json_chunks(items: Iterator[Item], views: OccurrenceViews) -> Iterator[bytes]:
    """Yield the items as JSON, comma-separated, STREAM_CHUNK items at a time.

    An occurrence's JSON is its series' template with four values spliced in
    (views.write): no dict and no serialiser call per item. Each item is
    dropped once written, so none lives long enough for the collector to see.
    """
    parts: list[bytes] = []
    for n, item in enumerate(items):
        if n:
            parts.append(b",")
        write_item(parts, item, views)
        if n % STREAM_CHUNK == STREAM_CHUNK - 1:
            yield b"".join(parts)
            parts = []
    if parts:
        yield b"".join(parts)


def write_item(out: list[bytes], item: Item, views: OccurrenceViews) -> None:
    """Append the wire form of a window item to ``out`` as JSON."""
    _, _, original, series, override = item
    if original == SINGLE:
        out.append(orjson.dumps(views.single(series)))
    else:
        views.write(out, series, original, override)


def _require_streamable(window: Window, cap: int) -> None:
    """Refuse a window with more than ``cap`` items (counting stops at ``cap + 1``)."""
    if count_items(window.rows, window.overrides, window.start, window.end, cap) > cap:
        raise validation_error(
            f"the window holds more than {cap} schedules and occurrences, the most one"
            " answer holds; narrow the window, or read it in pages with limit and cursor",
            field="end",
            limit=cap,
            count_at_least=cap + 1,
        )


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
