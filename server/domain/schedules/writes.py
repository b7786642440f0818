"""Writing whole series: insert, edit, delete (each emits its event)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from sqlalchemy.engine import RowMapping

from server.clock import iso_ms
from server.domain.context import Mutation
from server.domain.editing import write_row
from server.domain.schedules.recurrence import is_occurrence
from server.domain.schedules.series import TIMING, series_of, timing
from server.domain.schedules.views import schedule_view
from server.domain.timers.links import do_unlink_timers
from server.domain.visibility.fanout import deletion
from server.realtime.topics import user_topic
from server.storage import schedules as store
from server.storage.rows import delete_rows, get_owned, insert_row
from server.storage.tables import schedules
from server.storage.tag_links import delete_tag_links, insert_tag_links, set_tag_links
from server.storage.users import get_user


def instants(originals: list[int]) -> list[str]:
    """Write original starts as the instants a reply lists."""
    return [iso_ms(o) for o in sorted(originals)]


async def insert_series(m: Mutation, fields: Mapping[Any, Any]) -> dict[str, Any]:
    """Insert a series from column values (timing checked here) and emit schedule.created."""
    tag_ids = list(fields.get("tag_ids", []))
    row = {
        "id": str(uuid.uuid4()),
        "owner_id": m.actor.user_id,
        "description": "",
        "state": "PLANNED",
        "source_todo_id": None,
        "recurrence_rule": None,
        "recurrence_end": None,
        **{k: v for k, v in fields.items() if k != "tag_ids"},
        "tag_ids": orjson.dumps(tag_ids).decode(),
        "created_at": m.now,
        "updated_at": m.now,
        "version": 1,
    }
    row.update(timing(row))
    await insert_row(m.conn, schedules, row)
    await insert_tag_links(m.conn, "schedule", row["id"], row["owner_id"], tag_ids)
    m.emit(user_topic(row["owner_id"]), "schedule.created", schedule_view(row))
    return row


async def edit_series(
    m: Mutation,
    row: Mapping[Any, Any],
    changes: Mapping[Any, Any],
    left: Sequence[Mapping[Any, Any]] = (),
) -> tuple[dict[str, Any], list[int]]:
    """Change a whole series; return it and the overrides its new timing orphaned (dropped).

    ``left`` are overrides the caller took off the series in the same change (a
    split moved or deleted them).
    """
    fields = dict(changes)
    if "tag_ids" in fields:
        await set_tag_links(m.conn, "schedule", row["id"], row["owner_id"], fields["tag_ids"])
        fields["tag_ids"] = orjson.dumps(fields["tag_ids"]).decode()
    if "start_at" in fields and "end_at" not in fields:
        # A new start alone moves the schedule: its duration is kept.
        fields["end_at"] = fields["start_at"] + row["end_at"] - row["start_at"]
    dropped: Sequence[Mapping[Any, Any]] = []
    if any(key in fields for key in TIMING):
        fields.update(timing({**row, **fields}))
        dropped = await _reconcile_overrides(m, row, {**row, **fields})
    if not fields:
        return dict(row), []
    updated = await write_row(m, schedules, row, fields)
    # An occurrence shows series + override version; one whose override goes
    # may come back later (the rule changes back) and must not show less.
    lift = max((o["version"] for o in [*left, *dropped]), default=0)
    if lift:
        await store.raise_series_version(m.conn, row["id"], lift)
        updated["version"] += lift
    m.emit(user_topic(row["owner_id"]), "schedule.updated", schedule_view(updated))
    return updated, [o["original_start"] for o in dropped]


async def delete_series(m: Mutation, row: Mapping[Any, Any]) -> None:
    """Delete a series with its overrides and links; its timers let go of it."""
    await store.delete_overrides(m.conn, row["id"])
    await delete_tag_links(m.conn, "schedule", [row["id"]])
    await delete_rows(m.conn, schedules, [row["id"]])
    await do_unlink_timers(m, {"schedule_id": [row["id"]]})
    m.emit(
        user_topic(row["owner_id"]), "schedule.deleted", {"id": row["id"]}, audience=deletion(row)
    )


async def _reconcile_overrides(
    m: Mutation, old: Mapping[str, Any], new: Mapping[str, Any]
) -> list[RowMapping]:
    """Fit overrides to a series' new timing; return those dropped.

    An override whose occurrence the series no longer has is dropped; one that
    kept its occurrence's times (it changed only a title, say) follows the new
    duration instead of pinning the old one.
    """
    series = series_of(new)
    old_duration = old["end_at"] - old["start_at"]
    new_duration = new["end_at"] - new["start_at"]
    orphans = []
    for o in await store.overrides_of(m.conn, new["id"]):
        original = o["original_start"]
        if new["recurrence_rule"] is None or not is_occurrence(series, original):
            orphans.append(o)
        elif (o["start_at"], o["end_at"]) == (original, original + old_duration):
            await store.write_override(m.conn, o, {"end_at": original + new_duration})
    await store.delete_overrides(m.conn, new["id"], [o["original_start"] for o in orphans])
    return orphans


async def load_series(m: Mutation, series_id: str) -> RowMapping | None:
    """Return a series of the actor, locked, or None."""
    return await get_owned(m.conn, schedules, m.actor.user_id, series_id, for_update=True)


async def user_zone(m: Mutation) -> str:
    """Return the actor's time zone (the default zone of their schedules)."""
    user = await get_user(m.conn, m.actor.user_id)
    return "UTC" if user is None else str(user["timezone"])
