"""REST reads of a poll: the poll, its result, its cells as CSV (users and guests alike)."""

from __future__ import annotations

import csv
import io

from aiohttp import web

from schema.base import Empty as NoQuery
from schema.commands.meetings import ResultData
from schema.errors import ErrorCode
from schema.rest import MeetingPath, MeetingQuery, MeetingResultQuery
from server.clock import iso_ms
from server.domain.context import GuestScope, Services, Who
from server.domain.meetings.access import open_meeting
from server.domain.meetings.grid import grid_of
from server.domain.meetings.participants import token_hash
from server.domain.meetings.reads import get_meeting_detail
from server.domain.meetings.results import meeting_result
from server.domain.meetings.views import cells_of
from server.domain.visibility.access import viewer_of
from server.domain.visibility.policy import Viewer
from server.errors import ApiError
from server.rest.auth import require_user
from server.rest.reads import json_response, parse_model, parse_query
from server.state import STATE
from server.storage import meetings as store

# A guest reads its poll with the token it got at join, in this header.
GUEST_HEADER = "X-Participant-Token"
CSV_COLUMNS = ("participant_id", "display_name", "tier", "start", "end")


async def handle_meeting(request: web.Request) -> web.Response:
    """Return a poll with its participants and their cells."""
    services = request.app[STATE].services
    who = await _who(request, services)
    query = parse_query(MeetingQuery, request)
    return json_response(await get_meeting_detail(services, who, _meeting_id(request), query.tz))


async def handle_meeting_result(request: web.Request) -> web.Response:
    """Return a poll's counts per cell and its best windows."""
    services = request.app[STATE].services
    who = await _who(request, services)
    query = parse_query(MeetingResultQuery, request)
    data = ResultData(id=_meeting_id(request), **query.model_dump())
    return json_response(await meeting_result(services, who, data))


async def handle_meeting_csv(request: web.Request) -> web.Response:
    """Return a poll's cells as CSV: one row per participant, tier and cell."""
    services = request.app[STATE].services
    who = await _who(request, services)
    parse_query(NoQuery, request)
    async with services.db.read() as conn:
        opened = await open_meeting(conn, who, _meeting_id(request))
        rows = await store.list_participants(conn, opened.row["id"])
    grid = grid_of(opened.row)
    # Stored cells are cells of the grid: an update drops the others in its transaction.
    ends = dict(zip(grid.starts, grid.ends, strict=True))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        for tier in ("available", "if_need_be"):
            for start in cells_of(row, tier):
                cell = (iso_ms(start), iso_ms(ends[start]))
                writer.writerow((row["id"], row["display_name"], tier, *cell))
    return web.Response(text=out.getvalue(), content_type="text/csv", charset="utf-8")


def _meeting_id(request: web.Request) -> str:
    """Return the path's meeting id in its canonical form; a malformed one is a 422."""
    return parse_model(MeetingPath, dict(request.match_info)).id


async def _who(request: web.Request, services: Services) -> Who:
    """Return who reads: the bearer's user, or the guest of a participant token."""
    token = request.headers.get(GUEST_HEADER)
    if token is None:
        user_id = await require_user(request)
        async with services.db.read() as conn:
            return Who(user_id, await viewer_of(conn, user_id))
    async with services.db.read() as conn:
        row = await store.participant_by_token(conn, token_hash(token))
    if row is None:
        raise ApiError(ErrorCode.UNAUTHORIZED, f"unknown {GUEST_HEADER}")
    scope = GuestScope(row["meeting_id"], "rest", row["id"])
    return Who(scope.actor_id, Viewer(scope.actor_id), scope)
