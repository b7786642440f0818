"""Schedules over REST: a window (paged, or streamed whole) and the iCalendar feed."""

from __future__ import annotations

from aiohttp import web

from schema.errors import ErrorCode
from schema.rest import ScheduleListQuery
from server.domain.holidays.calendars import holidays_tail, with_holidays
from server.domain.schedules.feeds import render_feed_of
from server.domain.schedules.reads import list_schedule_views, stream_window
from server.errors import ApiError
from server.rest.auth import require_user
from server.rest.reads import json_response, parse_query
from server.rest.streaming import prepend, stream_body
from server.state import STATE

# The page size when a cursor comes without a limit.
DEFAULT_PAGE = 1000


async def handle_schedules(request: web.Request) -> web.StreamResponse:
    """Answer a window's schedules: one page with ``limit``, else the whole window, streamed."""
    user_id = await require_user(request)
    query = parse_query(ScheduleListQuery, request)
    services = request.app[STATE].services
    if query.limit is not None or query.cursor is not None:
        page = query.model_copy(update={"limit": query.limit or DEFAULT_PAGE})
        listed = await list_schedule_views(services, user_id, page)
        return json_response(await with_holidays(services, user_id, page, listed))
    tail = await holidays_tail(services, user_id, query)
    chunks = stream_window(services, user_id, query, tail)
    first = await anext(chunks)  # errors (bad window, foreign tags) surface before headers go
    headers = {"Content-Type": "application/json"}
    # As the exports: backpressure, a stall limit, and a cut body if it fails later.
    return await stream_body(request, headers, prepend(first, chunks))


async def handle_calendar(request: web.Request) -> web.Response:
    """Serve the feed a secret token names; unknown or revoked tokens are 404."""
    token = request.match_info["token"]
    body = None if len(token) > 100 else await render_feed_of(request.app[STATE].services, token)
    if body is None:
        raise ApiError(ErrorCode.NOT_FOUND, "no such calendar feed (unknown or revoked token)")
    return web.Response(
        body=body,
        headers={
            "Content-Type": "text/calendar; charset=utf-8",
            "Cache-Control": "private, max-age=300",
        },
    )
