"""Schedule actions: each one transaction whose events form one batch."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from schema.commands.schedules import ScheduleCreateData, ScheduleDeleteData, ScheduleUpdateData
from server.domain import deadlines
from server.domain.context import Actor, Services, mutate, retrying
from server.domain.editing import load_owned
from server.domain.paging import parse_instant
from server.domain.schedules import occurrence
from server.domain.schedules.recurrence import is_occurrence, parse_instance_id
from server.domain.schedules.series import series_of
from server.domain.schedules.views import schedule_view
from server.domain.schedules.writes import (
    delete_series,
    edit_series,
    insert_series,
    instants,
    load_series,
    user_zone,
)
from server.domain.taggable import require_own_tags
from server.errors import not_found, validation_error
from server.storage.tables import schedules

# Payload fields that are instants, and the columns they are stored in.
INSTANTS = {"start_time": "start_at", "end_time": "end_at", "recurrence_end": "recurrence_end"}


@retrying
async def do_create_schedule(
    services: Services, actor: Actor, data: ScheduleCreateData
) -> dict[str, Any]:
    """Create a schedule; with a rule it recurs in its zone (default: the user's)."""
    async with mutate(services, actor) as m:
        await require_own_tags(m.conn, actor.user_id, data.tag_ids)
        fields = columns(data.model_dump())
        fields["timezone"] = data.timezone or await user_zone(m)
        return m.done(schedule_view(await insert_series(m, fields)))


@retrying
async def do_update_schedule(
    services: Services, actor: Actor, data: ScheduleUpdateData
) -> dict[str, Any]:
    """Change a series, or one occurrence, or an occurrence and those after it."""
    series_id, original = _reference(data.id)
    changes = columns(data.changes("id", "scope", "if_version"))
    async with mutate(services, actor) as m:
        row = await load_owned(m, schedules, "schedule", series_id)
        if "tag_ids" in changes:
            await require_own_tags(m.conn, actor.user_id, changes["tag_ids"])
        if original is not None:
            _require_occurrence(row, original, data.id)
            reply = await occurrence.edit(m, row, original, data.scope, changes, data.if_version)
            after = await load_series(m, series_id)
            if after is not None and after["start_at"] != row["start_at"]:
                await deadlines.do_follow_schedule(m, after)
            return m.done(reply)
        _require_series_scope(data)
        occurrence.require_version(row, None, data.if_version)
        updated, dropped = await edit_series(m, row, changes)
        if updated["start_at"] != row["start_at"]:
            await deadlines.do_follow_schedule(m, updated)
        view = schedule_view(updated)
        return m.done({"schedule": view, "previous": None, "dropped_overrides": instants(dropped)})


@retrying
async def do_delete_schedule(
    services: Services, actor: Actor, data: ScheduleDeleteData
) -> dict[str, Any]:
    """Delete a series, one occurrence, or an occurrence and those after it."""
    series_id, original = _reference(data.id)
    async with mutate(services, actor) as m:
        row = await load_owned(m, schedules, "schedule", series_id)
        if original is not None:
            _require_occurrence(row, original, data.id)
            reply = await occurrence.delete(m, row, original, data.scope, data.if_version)
            if reply["series_deleted"]:
                await deadlines.do_forget_schedule(m, row)
            return m.done(reply)
        _require_series_scope(data)
        occurrence.require_version(row, None, data.if_version)
        await delete_series(m, row)
        await deadlines.do_forget_schedule(m, row)
        return m.done({"id": data.id, "scope": "series", "series_deleted": True, "series": None})


def columns(payload: Mapping[Any, Any]) -> dict[str, Any]:
    """Turn payload fields into column values: instants parsed, the rest as given."""
    return {
        INSTANTS.get(key, key): parse_instant(value, key) if key in INSTANTS else value
        for key, value in payload.items()
    }


def _reference(ref: str) -> tuple[str, int | None]:
    parsed = parse_instance_id(ref)
    return (ref, None) if parsed is None else parsed


def _require_series_scope(data: ScheduleUpdateData | ScheduleDeleteData) -> None:
    if "scope" in data.model_fields_set and data.scope != "series":
        raise validation_error(
            f"scope {data.scope!r} needs an occurrence id (<series id>:<original start>)",
            field="scope",
        )


def _require_occurrence(row: Mapping[Any, Any], original: int, ref: str) -> None:
    if row["recurrence_rule"] is None or not is_occurrence(series_of(row), original):
        raise not_found("schedule", ref)
