"""Bulk reads: bootstrap and timers."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web
from pydantic import ValidationError

from schema.errors import ErrorCode
from schema.rest import TimerListQuery
from server.clock import iso_ms, now_ms
from server.domain.timers.reads import active_timer_views, list_timer_views
from server.domain.users.views import user_view
from server.errors import ApiError, not_found, validation_details
from server.realtime.topics import user_topic
from server.rest.auth import require_user
from server.state import STATE
from server.storage.events import get_heads
from server.storage.users import get_user


def _json(body: Any) -> web.Response:
    return web.Response(body=orjson.dumps(body), content_type="application/json")


async def handle_bootstrap(request: web.Request) -> web.Response:
    """Return the user, active timers and the topic cursors to stream from."""
    user_id = await require_user(request)
    services = request.app[STATE].services
    topic = user_topic(user_id)
    # Read the cursor before the state: an event between the two is then
    # replayed onto state that already has it, which is harmless (events carry
    # the whole resource and its version), whereas the other order loses it.
    async with services.db.read() as conn:
        heads = await get_heads(conn, [topic])
        row = await get_user(conn, user_id)
    if row is None:
        raise not_found("user", user_id)
    active = await active_timer_views(services, user_id)
    return _json(
        {
            "user": user_view(row, private=True),
            "timers": active["items"],
            "epoch": services.epoch,
            "topics": {topic: {"seq": heads[topic]}},
            "server_time": iso_ms(now_ms()),
        }
    )


async def handle_timers(request: web.Request) -> web.Response:
    """Return a page of the caller's timers (filters as timer.list)."""
    user_id = await require_user(request)
    try:
        query = TimerListQuery.model_validate(dict(request.query))
    except ValidationError as exc:
        raise ApiError(
            ErrorCode.VALIDATION_ERROR, "invalid query parameters", validation_details(exc)
        ) from None
    return _json(await list_timer_views(request.app[STATE].services, user_id, query))
