"""Holiday reads: checked queries to the engine, their wire views, and the iCalendar feed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from schema.errors import ErrorCode
from schema.holidays import HolidayListData
from schema.rest import HolidayFeedQuery
from server.domain.holidays.engine import (
    CalendarSpec,
    Holiday,
    HolidayEngine,
    HolidayQueryError,
    year_bounds,
)
from server.domain.holidays.ical import render_holiday_feed
from server.errors import ApiError

# A feed without years spans last year to two years ahead: what a subscriber
# looks back on and plans for; the file then changes once a year, on 1 January.
FEED_YEARS_BEFORE = 1
FEED_YEARS_AFTER = 2
# "US-CA": two letters, a hyphen, the subdivision; longer names are no calendar.
MAX_CALENDAR_NAME = 80


@contextmanager
def refused(prefix: str = "") -> Iterator[None]:
    """Turn the engine's refusals into validation errors (``prefix`` locates the field)."""
    try:
        yield
    except HolidayQueryError as exc:
        details = dict(exc.details)
        if prefix:
            details["field"] = f"{prefix}.{details['field']}"
        raise ApiError(ErrorCode.VALIDATION_ERROR, exc.message, details) from None


def holiday_view(day: Holiday) -> dict[str, Any]:
    """Return the wire form of one holiday."""
    return {
        "date": day.date.isoformat(),
        "name": day.name,
        "observed": day.observed,
        "estimated": day.estimated,
        "category": day.category,
    }


def list_holiday_views(engine: HolidayEngine, query: HolidayListData) -> dict[str, Any]:
    """Return a calendar's holidays over the query's years, with the calendar as resolved."""
    years = query.year_range()
    assert years is not None  # the model requires them
    with refused():
        spec = engine.resolve(query.country, query.subdivision, query.language, query.categories)
        days = engine.days(spec, *years)
    return {**calendar_view(spec, *years), "items": [holiday_view(day) for day in days]}


def calendar_view(spec: CalendarSpec, start_year: int, end_year: int) -> dict[str, Any]:
    """Return what a holiday list names: its calendar and years."""
    return {
        "country": spec.country,
        "subdivision": spec.subdivision,
        "language": spec.language,
        "categories": list(spec.categories),
        "start_year": start_year,
        "end_year": end_year,
    }


def country_views(engine: HolidayEngine) -> dict[str, Any]:
    """Return every country the engine knows."""
    return {"items": engine.countries()}


def render_calendar_feed(
    engine: HolidayEngine, calendar: str, query: HolidayFeedQuery, this_year: int
) -> bytes:
    """Render the feed of ``calendar`` (``KR``, ``US-CA``); no years asked: around ``this_year``."""
    if len(calendar) > MAX_CALENDAR_NAME:
        raise ApiError(
            ErrorCode.VALIDATION_ERROR, "no such holiday calendar", {"field": "calendar"}
        )
    country, hyphen, subdivision = calendar.partition("-")
    with refused():
        spec = engine.resolve(
            country, subdivision if hyphen else None, query.language, query.categories
        )
        first, last = query.year_range() or _around(spec, this_year)
        days = engine.days(spec, first, last)
    return render_holiday_feed(spec, engine.title(spec), days)


def _around(spec: CalendarSpec, this_year: int) -> tuple[int, int]:
    low, high = year_bounds(spec.country)
    first = min(max(this_year - FEED_YEARS_BEFORE, low), high)
    return first, max(min(this_year + FEED_YEARS_AFTER, high), first)
