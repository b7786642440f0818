"""Edits addressed to one occurrence: this one, this and the following, or the series."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from sqlalchemy import update
from sqlalchemy.engine import RowMapping

from schema.errors import ErrorCode
from server.domain.context import Mutation
from server.domain.schedules.recurrence import RecurrenceError, split_rule
from server.domain.schedules.series import series_of, whole_seconds
from server.domain.schedules.views import occurrence_version, occurrence_view, schedule_view
from server.domain.schedules.writes import delete_series, edit_series, insert_series, instants
from server.domain.visibility.fanout import deletion
from server.errors import ApiError, not_found, validation_error
from server.realtime.topics import user_topic
from server.storage import schedules as store
from server.storage.tables import schedule_overrides

# What one occurrence can change on its own; the rest belongs to the series.
OCCURRENCE_FIELDS = frozenset({"title", "description", "start_at", "end_at", "state"})


def require_version(
    row: Mapping[Any, Any], override: Mapping[Any, Any] | None, expected: int | None
) -> None:
    """Refuse a stale ``if_version``: the series' (no override given), or the occurrence's."""
    version = occurrence_version(row, override)
    if expected is not None and expected != version:
        raise ApiError(
            ErrorCode.CONFLICT, "the schedule was changed meanwhile", {"version": version}
        )


async def edit(
    m: Mutation,
    row: RowMapping,
    original: int,
    scope: str,
    changes: dict[str, Any],
    if_version: int | None,
) -> dict[str, Any]:
    """Apply an update addressed to an occurrence, in the scope asked."""
    if scope == "this":
        return await _edit_this(m, row, original, changes, if_version)
    require_version(row, None, if_version)
    if scope == "series" or original == row["start_at"]:
        updated, dropped = await edit_series(m, row, _shifted(row, original, changes))
        view = schedule_view(updated)
        return {"schedule": view, "previous": None, "dropped_overrides": instants(dropped)}
    return await _split_series(m, row, original, changes)


async def delete(
    m: Mutation, row: RowMapping, original: int, scope: str, if_version: int | None
) -> dict[str, Any]:
    """Delete an occurrence, it and the following ones, or the whole series."""
    override = await store.get_override(m.conn, row["id"], original)
    require_version(row, override if scope == "this" else None, if_version)
    ident = occurrence_view(row, original, None)["id"]
    reply = {"id": ident, "scope": scope, "series_deleted": False, "series": None}
    if scope == "series" or (scope == "following" and original == row["start_at"]):
        await delete_series(m, row)
        return {**reply, "series_deleted": True}
    if scope == "this":
        _require_not_cancelled(row, original, override)
        await _write_override(m, row, original, override, {"cancelled": True})
        m.emit(
            user_topic(row["owner_id"]), "schedule.deleted", {"id": ident}, audience=deletion(row)
        )
        return reply
    head, _ = _split(row, original)
    updated = await _end_before(m, row, original, head, await _overrides_from(m, row, original))
    return {**reply, "series": schedule_view(updated)}


async def _edit_this(
    m: Mutation, row: RowMapping, original: int, changes: dict[str, Any], if_version: int | None
) -> dict[str, Any]:
    extra = sorted(set(changes) - OCCURRENCE_FIELDS)
    if extra:
        raise validation_error(
            "one occurrence changes only its title, description, times and state;"
            " use scope following or series for the rest",
            fields=extra,
        )
    override = await store.get_override(m.conn, row["id"], original)
    _require_not_cancelled(row, original, override)
    require_version(row, override, if_version)
    if not changes:
        view = occurrence_view(row, original, override)
        return {"schedule": view, "previous": None, "dropped_overrides": []}
    current = (original, original + row["end_at"] - row["start_at"])
    if override is not None:
        current = (override["start_at"], override["end_at"])
    start = whole_seconds(changes.get("start_at", current[0]))
    end = whole_seconds(changes.get("end_at", start + current[1] - current[0]))
    if end <= start:
        raise validation_error("end_time must be after start_time", field="end_time")
    values = {k: v for k, v in changes.items() if k in ("title", "description", "state")}
    written = await _write_override(
        m, row, original, override, {**values, "cancelled": False, "start_at": start, "end_at": end}
    )
    view = occurrence_view(row, original, written)
    m.emit(user_topic(row["owner_id"]), "schedule.updated", view)
    return {"schedule": view, "previous": None, "dropped_overrides": []}


async def _write_override(
    m: Mutation,
    row: Mapping[Any, Any],
    original: int,
    existing: RowMapping | None,
    changes: Mapping[Any, Any],
) -> dict[str, Any]:
    """Create or change an occurrence's override; return it as stored.

    The override's version counts its changes (1 for a new one); the occurrence
    shows the series' version plus it (views.occurrence_version).
    """
    base: dict[str, Any] = {
        "series_id": row["id"],
        "original_start": original,
        "owner_id": row["owner_id"],
        "cancelled": False,
        "start_at": original,
        "end_at": original + row["end_at"] - row["start_at"],
        "title": None,
        "description": None,
        "state": None,
        "created_at": m.now,
        "version": 0,
    }
    if existing is not None:
        base = dict(existing)
    values = {**base, **changes, "updated_at": m.now, "version": base["version"] + 1}
    await store.write_override(m.conn, existing, values)
    return values


def _require_not_cancelled(row: Mapping[Any, Any], original: int, override: Any) -> None:
    if override is not None and override["cancelled"]:
        raise not_found("schedule", occurrence_view(row, original, None)["id"])


def _shifted(row: Mapping[Any, Any], original: int, changes: dict[str, Any]) -> dict[str, Any]:
    """Turn an occurrence's new times into the series' new times (the same shift)."""
    out = dict(changes)
    if "start_at" in changes:
        out["start_at"] = row["start_at"] + changes["start_at"] - original
        out.setdefault("end_at", out["start_at"] + row["end_at"] - row["start_at"])
    if "end_at" in changes:
        out["end_at"] = row["start_at"] + changes["end_at"] - original
    return out


# What the new series of a ``following`` split takes over from the old one.
SPLIT_KEEPS = (
    "title",
    "description",
    "timezone",
    "state",
    "recurrence_end",
    "visibility",
    "visibility_rules",
)


async def _split_series(
    m: Mutation, row: RowMapping, original: int, changes: dict[str, Any]
) -> dict[str, Any]:
    """End the series before ``original`` and start a new one there, with the changes."""
    head, tail = _split(row, original)
    later = await _overrides_from(m, row, original)
    start = changes.get("start_at", original)
    fields = {
        **{k: row[k] for k in SPLIT_KEEPS},
        "recurrence_rule": tail,
        "tag_ids": orjson.loads(row["tag_ids"]),
        **changes,
        "start_at": start,
        "end_at": changes.get("end_at", start + row["end_at"] - row["start_at"]),
    }
    created = await insert_series(m, fields)
    # Overrides from the split on keep their occurrence only when the new series
    # has the very same occurrences; otherwise they are orphans and dropped.
    moved = _same_occurrences(row, created, original, changes)
    if moved:
        await _move_later_overrides(m, row["id"], created["id"], original)
    previous = await _end_before(m, row, original, head, later)
    dropped = [] if moved else [o["original_start"] for o in later]
    return {
        "schedule": schedule_view(created),
        "previous": schedule_view(previous),
        "dropped_overrides": instants(dropped),
    }


def _split(row: Mapping[Any, Any], original: int) -> tuple[str | None, str | None]:
    """Return the rules before and from an occurrence; a split the rule language
    cannot express (a weekly BYSETPOS) is refused as the scope's limit."""
    try:
        return split_rule(series_of(row), original)
    except RecurrenceError as exc:
        raise validation_error(
            f"this series cannot be split at that occurrence: {exc}; use scope this or series",
            field="scope",
        ) from None


def _same_occurrences(
    row: Mapping[Any, Any], created: Mapping[Any, Any], original: int, changes: Mapping[Any, Any]
) -> bool:
    return (
        created["start_at"] == original
        and created["end_at"] - created["start_at"] == row["end_at"] - row["start_at"]
        and not {"timezone", "recurrence_rule", "recurrence_end"} & set(changes)
    )


async def _overrides_from(m: Mutation, row: RowMapping, original: int) -> list[RowMapping]:
    """Return the series' overrides of ``original`` and the occurrences after it."""
    return [
        o for o in await store.overrides_of(m.conn, row["id"]) if o["original_start"] >= original
    ]


async def _end_before(
    m: Mutation, row: RowMapping, original: int, head: str | None, later: list[RowMapping]
) -> dict[str, Any]:
    """Cut the series so its last occurrence is the one before ``original``.

    ``later`` are its overrides from ``original`` on (read before a split moved
    any): those still on the series are deleted, and all leave its occurrences.
    """
    await store.delete_overrides(m.conn, row["id"], [o["original_start"] for o in later])
    # The engine gives no first part only for a split at DTSTART, which callers
    # treat as the whole series; a defensive fallback keeps DTSTART alone.
    cut = {"recurrence_rule": head} if head else {"recurrence_rule": None, "recurrence_end": None}
    updated, _ = await edit_series(m, row, cut, later)
    return updated


async def _move_later_overrides(m: Mutation, old_id: str, new_id: str, original: int) -> None:
    """Give the new series the old one's overrides from ``original`` on."""
    stmt = (
        update(schedule_overrides)
        .where(
            schedule_overrides.c.series_id == old_id,
            schedule_overrides.c.original_start >= original,
        )
        .values(series_id=new_id)
    )
    await m.conn.execute(stmt)
