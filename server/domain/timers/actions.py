"""Timer actions: each one transaction with its events."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import orjson

from schema.commands.timers import TimerStartData, TimerUpdateData
from schema.errors import ErrorCode
from server.domain.context import (
    SYSTEM,
    Actor,
    Mutation,
    Services,
    mutate,
    mutate_read_row,
    retrying,
)
from server.domain.timers import logic
from server.domain.timers.links import require_links, with_inherited
from server.domain.visibility.fanout import deletion
from server.errors import ApiError, not_found
from server.realtime.topics import user_topic
from server.storage import timers as store
from server.storage.events import StaleRowError
from server.storage.tables import timer_history, timers
from server.storage.tag_links import delete_tag_links, insert_tag_links, set_tag_links

Transition = Callable[[logic.Row, int], dict[str, Any]]

LINKS = frozenset({"schedule_id", "todo_id"})

TRANSITIONS: dict[str, tuple[Transition, str]] = {
    "pause": (logic.pause, "timer.paused"),
    "resume": (logic.resume, "timer.resumed"),
    "stop": (lambda row, now: logic.finish(row, now, logic.COMPLETED), "timer.stopped"),
    "cancel": (lambda row, now: logic.finish(row, now, logic.CANCELLED), "timer.cancelled"),
}


@retrying
async def do_start_timer(services: Services, actor: Actor, data: TimerStartData) -> dict[str, Any]:
    """Create a RUNNING timer (pausing the others when SINGLE_RUNNING_TIMER is on)."""
    async with mutate(services, actor) as m:
        links = await require_links(
            m.conn,
            actor.user_id,
            schedule_id=data.schedule_id,
            todo_id=data.todo_id,
            tag_ids=data.tag_ids,
        )
        if services.settings.single_running_timer:
            await _pause_running(m)
        tag_ids = with_inherited(data.tag_ids, links) if data.inherit_tags else data.tag_ids
        fields = data.model_dump(exclude={"inherit_tags", "tag_ids"})
        fields.update(schedule_id=links.schedule_id, todo_id=links.todo_id)
        fields["tag_ids"] = orjson.dumps(tag_ids).decode()
        values = logic.new_timer_values(str(uuid.uuid4()), actor.user_id, fields, m.now)
        await store.insert_timer(m.conn, values)
        await insert_tag_links(m.conn, "timer", values["id"], actor.user_id, tag_ids)
        view = logic.timer_change(values, m.now)
        m.emit(user_topic(actor.user_id), "timer.started", view)
        m.done(view)
    services.on_due_at(values["due_at"])
    return view


@retrying
async def do_transition(
    services: Services, actor: Actor, timer_id: str, action: str, if_version: int | None
) -> dict[str, Any]:
    """Pause, resume, stop or cancel a timer."""
    if action == "resume" and services.settings.single_running_timer:
        return await _resume_alone(services, actor, timer_id, if_version)
    transition, event = TRANSITIONS[action]
    # The row as this process last wrote it, if it did (taken out: a failed attempt
    # leaves none, so ``retrying`` reads). Else one read. Either way the write lands
    # only while the row is still as used (one statement on PostgreSQL).
    key = (actor.user_id, timer_id)
    cached = services.timer_rows.take(key)
    if cached is not None and if_version not in (None, cached["version"]):
        cached = None
    async with mutate_read_row(services, actor) as m:
        found = cached or await store.get_timer(m.conn, actor.user_id, timer_id)
        row = _checked(found, timer_id, if_version)
        try:
            changes = transition(row, m.now)
        except ApiError:
            if cached is None:
                raise
            raise StaleRowError(timer_id) from None  # refused by a row maybe stale: read it
        view = m.done(_apply_last(m, row, changes, event, checked=True))
    services.timer_rows.put(key, _written(row, changes, m.now))
    if changes.get("due_at") is not None:
        services.on_due_at(changes["due_at"])
    return view


@retrying
async def _resume_alone(
    services: Services, actor: Actor, timer_id: str, if_version: int | None
) -> dict[str, Any]:
    """Resume a timer and pause the others (SINGLE_RUNNING_TIMER): a rule across rows."""
    async with mutate(services, actor) as m:
        row = await _load(m, timer_id, if_version)
        await _pause_running(m)
        changes = logic.resume(row, m.now)
        view = m.done(_apply_last(m, row, changes, "timer.resumed"))
    services.on_due_at(changes["due_at"])
    return view


@retrying
async def do_update_timer(
    services: Services, actor: Actor, data: TimerUpdateData
) -> dict[str, Any]:
    """Change a timer's title, description, tags or links."""
    changes = data.changes("id", "if_version")
    async with mutate(services, actor) as m:
        row = await _load(m, data.id, data.if_version)
        wanted = {k: changes.get(k, row[k]) for k in LINKS}
        new_tags = changes.get("tag_ids")
        links = await require_links(m.conn, actor.user_id, **wanted, tag_ids=new_tags or [])
        if LINKS & set(changes):
            # A newly linked generated schedule brings its todo, and back; a link
            # the client set (null included) is kept as sent.
            for key in LINKS - set(changes):
                if row[key] is None:
                    changes[key] = getattr(links, key)
        if new_tags is not None:
            changes["tag_ids"] = orjson.dumps(new_tags).decode()
            await set_tag_links(m.conn, "timer", data.id, actor.user_id, new_tags)
        view = (
            _apply_last(m, row, changes, "timer.updated")
            if changes
            else logic.timer_change(row, m.now)
        )
        m.done(view)
    return view


@retrying
async def do_delete_timer(
    services: Services, actor: Actor, timer_id: str, if_version: int | None
) -> dict[str, Any]:
    """Delete a timer."""
    async with mutate(services, actor) as m:
        row = await _load(m, timer_id, if_version)
        await store.delete_timer(m.conn, timer_id)
        await delete_tag_links(m.conn, "timer", [timer_id])
        m.emit(user_topic(actor.user_id), "timer.deleted", {"id": timer_id}, audience=deletion(row))
        m.done({"id": timer_id})
    return {"id": timer_id}


@retrying
async def do_fire_due(services: Services, timer_id: str, owner_id: str) -> bool:
    """Emit timer.due for a timer that reached its allocation; False when another instance did.

    The server acts for the owner: it holds the owner's lock like their own devices.
    """
    async with mutate(services, SYSTEM, owners=[owner_id]) as m:
        row = await store.claim_due(m.conn, timer_id, m.now)
        if row is None:
            return False
        m.emit(user_topic(row["owner_id"]), "timer.due", logic.timer_change(row, m.now))
    return True


async def _load(m: Mutation, timer_id: str, if_version: int | None) -> logic.Row:
    row = await store.get_timer(m.conn, m.actor.user_id, timer_id, for_update=True)
    return _checked(row, timer_id, if_version)


def _checked(row: logic.Row | None, timer_id: str, if_version: int | None) -> logic.Row:
    """Return the timer's row; a missing one is not_found, a stale ``if_version`` conflict."""
    if row is None:
        raise not_found("timer", timer_id)
    if if_version is not None and row["version"] != if_version:
        raise ApiError(
            ErrorCode.CONFLICT, "the timer was changed meanwhile", {"version": row["version"]}
        )
    return row


async def _apply_now(
    m: Mutation, row: logic.Row, changes: dict[str, Any], event: str
) -> dict[str, Any]:
    """Write the changes at once (the mutation reads on) and emit them."""
    await store.update_timer(m.conn, row["id"], {**changes, "updated_at": m.now})
    entry = logic.history_entry(row, changes, m.now)
    if entry is not None:
        await store.put_history(m.conn, entry)
    return _emit(m, row, changes, event)


def _apply_last(
    m: Mutation, row: logic.Row, changes: dict[str, Any], event: str, *, checked: bool = False
) -> dict[str, Any]:
    """Write the changes as the mutation's last write (with its event) and emit it;
    ``checked``: only while the row is at the version read."""
    version = row["version"] if checked else None
    entry = logic.history_entry(row, changes, m.now)
    puts = () if entry is None else ((timer_history, entry),)
    m.write_last(timers, row["id"], {**changes, "updated_at": m.now}, version, puts)
    return _emit(m, row, changes, event)


def _written(row: logic.Row, changes: dict[str, Any], now: int) -> dict[str, Any]:
    """Return the row as ``changes`` written at ``now`` leave it (its version bumped)."""
    return {**row, **changes, "updated_at": now, "version": row["version"] + 1}


def _emit(m: Mutation, row: logic.Row, changes: dict[str, Any], event: str) -> dict[str, Any]:
    view = logic.timer_change(_written(row, changes, m.now), m.now)
    m.emit(user_topic(row["owner_id"]), event, view)
    return view


async def _pause_running(m: Mutation) -> None:
    for row in await store.list_active_timers(m.conn, m.actor.user_id, ("RUNNING",)):
        await _apply_now(m, row, logic.pause(row, m.now), "timer.paused")
