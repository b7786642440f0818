"""A user's holiday calendars: checked before they are stored, overlaid on schedule windows.

The overlay is a separate list beside a window's items (``holidays``), never
schedules: the holidays of each of the user's calendars on the local days the
window touches, in the zone the window is answered in (its ``tz``, else the
user's own time zone).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from schema.commands.schedules import ScheduleListData
from schema.holidays import HolidayCalendarSpec
from schema.rest import BootstrapQuery
from server.domain.context import Services
from server.domain.holidays.engine import HolidayEngine, HolidayQueryError
from server.domain.holidays.reads import holiday_view, refused
from server.domain.paging import parse_instant
from server.errors import validation_error
from server.storage.users import get_user

log = logging.getLogger(__name__)


def stored_calendars(engine: HolidayEngine, changes: Mapping[str, Any]) -> str:
    """Check a profile change's holiday calendars; return them canonical, as stored JSON.

    A calendar without a language keeps none, so it follows the package's default.
    """
    specs: list[HolidayCalendarSpec] = changes["holiday_calendars"]
    stored: list[dict[str, Any]] = []
    for n, spec in enumerate(specs):
        with refused(f"holiday_calendars.{n}"):
            found = engine.resolve(spec.country, spec.subdivision, spec.language)
        if any((c["country"], c["subdivision"]) == found.code_parts for c in stored):
            raise validation_error(
                f"holiday_calendars names {found.code} twice", field=f"holiday_calendars.{n}"
            )
        language = None if spec.language is None else found.language
        stored.append(
            {"country": found.country, "subdivision": found.subdivision, "language": language}
        )
    return orjson.dumps(stored).decode()


def overlay_views(
    engine: HolidayEngine, calendars: list[dict[str, Any]], zone: str, start_ms: int, end_ms: int
) -> list[dict[str, Any]]:
    """Return the calendars' holidays on the days of [start, end) in ``zone``, by date."""
    tz = ZoneInfo(zone)
    first, last = _local_day(start_ms, tz), _local_day(end_ms - 1, tz)
    found: list[dict[str, Any]] = []
    for calendar in calendars:
        try:
            spec = engine.resolve(
                calendar["country"], calendar.get("subdivision"), calendar.get("language")
            )
        except HolidayQueryError:
            # Saved when the package knew it; a later release may have dropped it.
            log.warning("skipping holiday calendar the package no longer knows: %s", calendar)
            continue
        where = {"country": spec.country, "subdivision": spec.subdivision}
        found += [{**holiday_view(d), **where} for d in engine.days_between(spec, first, last)]
    found.sort(key=lambda view: view["date"])  # stable: the user's calendar order within a day
    return found


async def window_holidays(
    services: Services, user_id: str, query: ScheduleListData
) -> list[dict[str, Any]]:
    """Read the user's calendars and zone; return their holidays in the query's window."""
    async with services.db.read() as conn:
        row = await get_user(conn, user_id)
    if row is None:
        return []
    calendars = orjson.loads(row["holiday_calendars"])
    start, end = parse_instant(query.start, "start"), parse_instant(query.end, "end")
    assert start is not None  # the model requires it
    assert end is not None
    return overlay_views(services.holidays, calendars, query.tz or row["timezone"], start, end)


async def with_holidays(
    services: Services, user_id: str, query: ScheduleListData, page: dict[str, Any]
) -> dict[str, Any]:
    """Add the ``holidays`` overlay to a window's page when the query asks for it."""
    if query.include_holidays:
        page["holidays"] = await window_holidays(services, user_id, query)
    return page


async def holidays_tail(services: Services, user_id: str, query: ScheduleListData) -> bytes:
    """Return the overlay as JSON members to end a streamed window with (b"" if not asked)."""
    if not query.include_holidays:
        return b""
    return b',"holidays":' + orjson.dumps(await window_holidays(services, user_id, query))


def bootstrap_holidays(
    engine: HolidayEngine, user: Mapping[str, Any], query: BootstrapQuery
) -> dict[str, Any]:
    """Return bootstrap's ``holidays`` for its window and the user's calendars, when asked."""
    if not query.include_holidays or query.schedules_start is None:
        return {}
    start = parse_instant(query.schedules_start, "schedules_start")
    end = parse_instant(query.schedules_end, "schedules_end")
    assert start is not None  # the model requires both with the flag
    assert end is not None
    zone = query.tz or user["timezone"]
    return {"holidays": overlay_views(engine, user["holiday_calendars"], zone, start, end)}


def _local_day(ms: int, zone: ZoneInfo) -> date:
    try:
        return datetime.fromtimestamp(ms // 1000, zone).date()
    except (OverflowError, ValueError, OSError):
        # Only instants within a day of year 1 or 9999 fail; no holiday is known there.
        return date.min if ms < 0 else date.max
