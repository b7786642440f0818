"""Exports over REST: timers as CSV or JSON Lines, schedules as iCalendar, the account archive."""

from __future__ import annotations

from aiohttp import web

from schema.base import Empty as NoQuery
from schema.exports import TimerExportQuery
from server.clock import now_ms
from server.domain.exports.account import account_chunks
from server.domain.exports.timers import Format, prepare_timer_export
from server.domain.schedules.feeds import render_calendar_of
from server.rest.auth import require_user
from server.rest.reads import parse_query
from server.rest.streaming import stream_body
from server.state import STATE

CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/jsonl; charset=utf-8"}
# Exports are the user's own data: no shared cache may keep them.
PRIVATE = "private, no-store"


def attachment(filename: str) -> str:
    """Return the Content-Disposition of a download named ``filename``."""
    return f'attachment; filename="{filename}"'


async def handle_export_timers_csv(request: web.Request) -> web.StreamResponse:
    """Stream the caller's timers (or run segments) as CSV."""
    return await _export_timers(request, "csv")


async def handle_export_timers_jsonl(request: web.Request) -> web.StreamResponse:
    """Stream the caller's timers (or run segments) as JSON Lines."""
    return await _export_timers(request, "jsonl")


async def _export_timers(request: web.Request, fmt: Format) -> web.StreamResponse:
    user_id = await require_user(request)
    query = parse_query(TimerExportQuery, request)
    state = request.app[STATE]
    with state.exports.hold(user_id):
        export = await prepare_timer_export(state.services, user_id, query)
        headers = {
            "Content-Type": CONTENT_TYPES[fmt],
            "Content-Disposition": attachment(f"timers.{fmt}"),
            "Cache-Control": PRIVATE,
            "X-Export-Time-Zone": export.sheet.clock.zone,
        }
        return await stream_body(request, headers, export.chunks(fmt))


async def handle_export_schedules(request: web.Request) -> web.Response:
    """Answer every schedule of the caller as one iCalendar file."""
    user_id = await require_user(request)
    parse_query(NoQuery, request)
    body = await render_calendar_of(request.app[STATE].services, user_id)
    headers = {
        "Content-Type": "text/calendar; charset=utf-8",
        "Content-Disposition": attachment("schedules.ics"),
        "Cache-Control": PRIVATE,
    }
    return web.Response(body=body, headers=headers)


async def handle_export_account(request: web.Request) -> web.StreamResponse:
    """Stream everything the caller owns as a zip of JSON Lines files and a manifest."""
    user_id = await require_user(request)
    parse_query(NoQuery, request)
    state = request.app[STATE]
    now = now_ms()
    with state.exports.hold(user_id):
        headers = {
            "Content-Type": "application/zip",
            "Content-Disposition": attachment(f"hipster-timer-account-{now // 1000}.zip"),
            "Cache-Control": PRIVATE,
        }
        return await stream_body(request, headers, account_chunks(state.services, user_id, now))
