"""Friends over REST: the caller's accepted friends."""

from __future__ import annotations

from aiohttp import web

from schema.base import Empty as NoQuery
from server.domain.friends.reads import list_friend_views
from server.rest.auth import require_user
from server.rest.reads import json_response, parse_query
from server.state import STATE


async def handle_friends(request: web.Request) -> web.Response:
    """Return the caller's friends, oldest friendship first (the items of ``friend.list``)."""
    user_id = await require_user(request)
    parse_query(NoQuery, request)
    return json_response(await list_friend_views(request.app[STATE].services, user_id))
