"""Bulk reads: bootstrap, timers, tag groups, todos."""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from aiohttp import web
from pydantic import BaseModel, ValidationError

from schema.base import Empty as NoQuery
from schema.commands.schedules import ScheduleListData
from schema.errors import ErrorCode
from schema.rest import BootstrapQuery, TimerListQuery, TodoListQuery
from server.clock import iso_ms, now_ms
from server.domain.context import Services
from server.domain.friends.reads import bootstrap_views as friend_views
from server.domain.holidays.calendars import bootstrap_holidays
from server.domain.schedules.reads import list_schedule_views
from server.domain.tags.reads import list_group_views
from server.domain.timers.reads import active_timer_views, list_timer_views
from server.domain.todos.reads import list_todo_views
from server.domain.users.actions import do_sign_in
from server.errors import ApiError, validation_details
from server.realtime.topics import user_topic
from server.rest.auth import require_identity, require_user
from server.state import STATE
from server.storage.events import get_heads

# Todos in the bootstrap answer; more come from GET /v1/todos?cursor=todos_next_cursor.
BOOTSTRAP_TODOS = 5000
# Schedules in the bootstrap window; more from schedule.list with the cursor.
BOOTSTRAP_SCHEDULES = 5000
Q = TypeVar("Q", bound=BaseModel)


def json_response(body: Any) -> web.Response:
    """Answer ``body`` as JSON."""
    return web.Response(body=orjson.dumps(body), content_type="application/json")


async def handle_bootstrap(request: web.Request) -> web.Response:
    """Return the user, active timers, tag groups, todos, friends and the topic cursors."""
    identity = await require_identity(request)
    query = parse_query(BootstrapQuery, request)
    user_id = identity.sub
    services = request.app[STATE].services
    topic = user_topic(user_id)
    # Read the cursor before the state: an event between the two is then
    # replayed onto state that already has it, which is harmless (events carry
    # the whole resource and its version), whereas the other order loses it.
    async with services.db.read() as conn:
        heads = await get_heads(conn, [topic])
    # Like a WebSocket login, the first bootstrap creates the profile.
    user = await do_sign_in(services, identity)
    active = await active_timer_views(services, user_id)
    groups = await list_group_views(services, user_id)
    todos = await list_todo_views(services, user_id, TodoListQuery(limit=BOOTSTRAP_TODOS))
    window = await _bootstrap_schedules(services, user_id, query)
    window.update(bootstrap_holidays(services.holidays, user, query))
    friends = await friend_views(services, user_id)
    return json_response(
        {
            **window,
            "user": user,
            "timers": active["items"],
            "tag_groups": groups["items"],
            "todos": todos["items"],
            "todos_next_cursor": todos["next_cursor"],
            **friends,
            "epoch": services.epoch,
            "topics": {topic: {"seq": heads[topic]}},
            "server_time": iso_ms(now_ms()),
        }
    )


async def _bootstrap_schedules(
    services: Services, user_id: str, query: BootstrapQuery
) -> dict[str, Any]:
    """Return the window of schedules the client named, if it named one."""
    if query.schedules_start is None or query.schedules_end is None:
        return {}
    window = ScheduleListData(
        start=query.schedules_start,
        end=query.schedules_end,
        tz=query.tz,
        limit=BOOTSTRAP_SCHEDULES,
    )
    page = await list_schedule_views(services, user_id, window)
    return {"schedules": page["items"], "schedules_next_cursor": page["next_cursor"]}


async def handle_timers(request: web.Request) -> web.Response:
    """Return a page of the caller's timers (filters as timer.list)."""
    user_id = await require_user(request)
    query = parse_query(TimerListQuery, request)
    return json_response(await list_timer_views(request.app[STATE].services, user_id, query))


async def handle_tag_groups(request: web.Request) -> web.Response:
    """Return every tag group of the caller with its tags."""
    user_id = await require_user(request)
    parse_query(NoQuery, request)
    return json_response(await list_group_views(request.app[STATE].services, user_id))


async def handle_todos(request: web.Request) -> web.Response:
    """Return a page of the caller's todos (filters as todo.list)."""
    user_id = await require_user(request)
    query = parse_query(TodoListQuery, request)
    return json_response(await list_todo_views(request.app[STATE].services, user_id, query))


def parse_query(model: type[Q], request: web.Request) -> Q:
    """Validate the query string against ``model``; anything wrong is a 422."""
    return parse_model(model, dict(request.query), "invalid query parameters")


def parse_model(model: type[Q], values: dict[str, str], what: str = "invalid path") -> Q:
    """Validate request text (query or path parameters) against ``model``, else a 422."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise ApiError(ErrorCode.VALIDATION_ERROR, what, validation_details(exc)) from None
