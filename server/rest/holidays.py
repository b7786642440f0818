"""Holidays over REST: public, cacheable reads and the iCalendar feed of a calendar.

No token: holidays are public data (the same for everyone), so calendar apps can
subscribe to a feed and clients can list countries before sign-in. Every answer
carries a strong ETag, the hash of its bytes (which never hold the time they were
made), so a repeat with ``If-None-Match`` costs a 304 and no transfer.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import orjson
from aiohttp import web

from schema.base import Empty as NoQuery
from schema.rest import HolidayFeedQuery, HolidayListQuery
from server.domain.holidays.reads import country_views, list_holiday_views, render_calendar_feed
from server.rest.reads import parse_query
from server.state import STATE

# Holidays change with the package's releases: a day's staleness is harmless.
CACHE_CONTROL = "public, max-age=86400"
JSON = "application/json"
ICS = "text/calendar; charset=utf-8"


async def handle_holidays(request: web.Request) -> web.Response:
    """Answer a calendar's holidays over a year or a range of years (as holiday.list)."""
    query = parse_query(HolidayListQuery, request)
    body = list_holiday_views(request.app[STATE].services.holidays, query)
    return cacheable(request, orjson.dumps(body), JSON)


async def handle_holiday_countries(request: web.Request) -> web.Response:
    """Answer every country with its subdivisions, languages and categories."""
    parse_query(NoQuery, request)
    body = country_views(request.app[STATE].services.holidays)
    return cacheable(request, orjson.dumps(body), JSON)


async def handle_holiday_feed(request: web.Request) -> web.Response:
    """Serve the iCalendar feed of ``KR`` or ``US-CA`` (``/v1/holidays/US-CA.ics``)."""
    query = parse_query(HolidayFeedQuery, request)
    this_year = datetime.now(UTC).year
    engine = request.app[STATE].services.holidays
    body = render_calendar_feed(engine, request.match_info["calendar"], query, this_year)
    return cacheable(request, body, ICS)


def cacheable(request: web.Request, body: bytes, content_type: str) -> web.Response:
    """Answer ``body`` with its ETag, or 304 when the client's ``If-None-Match`` has it."""
    tag = hashlib.sha256(body).hexdigest()[:32]
    headers = {"ETag": f'"{tag}"', "Cache-Control": CACHE_CONTROL}
    # If-None-Match compares weakly (RFC 9110 13.1.2): W/"x" matches "x".
    if any(e.value in (tag, "*") for e in request.if_none_match or ()):
        return web.Response(status=304, headers=headers)
    headers["Content-Type"] = content_type
    return web.Response(body=body, headers=headers)
