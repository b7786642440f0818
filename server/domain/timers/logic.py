"""Timer arithmetic and transitions: pure functions of a row and an instant."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from schema.errors import ErrorCode
from server.clock import iso_ms, iso_or_none
from server.domain.visibility.policy import visibility_view
from server.errors import ApiError

RUNNING, PAUSED, COMPLETED, CANCELLED = "RUNNING", "PAUSED", "COMPLETED", "CANCELLED"
# The history is bounded: the newest 50 entries (25 pause/resume pairs) are kept and
# shown. Elapsed time never depends on it; changes and events leave it out
# (``timer_change``). Each entry is a row of timer_history in one of HISTORY_MAX
# slots, its number modulo HISTORY_MAX: entry n replaces entry n - HISTORY_MAX in
# the same write, so a timer holds at most HISTORY_MAX rows and none is ever deleted.
HISTORY_MAX = 50

Row = Mapping[Any, Any]


def elapsed_ms(row: Row, now: int) -> int:
    """Return finished segments plus the running one; nothing is rounded or stored."""
    running = row["segment_started_at"] if row["status"] == RUNNING else None
    return int(row["accumulated_ms"]) + (max(0, now - running) if running is not None else 0)


def due_instant(allocated_ms: int, accumulated_ms: int, segment_start: int) -> int:
    """Return when a segment started at ``segment_start`` reaches the allocation."""
    return segment_start + max(0, allocated_ms - accumulated_ms)


def new_timer_values(
    timer_id: str, owner_id: str, fields: dict[str, Any], now: int
) -> dict[str, Any]:
    """Return the row of a timer started at ``now``."""
    return {
        "id": timer_id,
        "owner_id": owner_id,
        "accumulated_ms": 0,
        "segment_started_at": now,
        "status": RUNNING,
        "started_at": now,
        "paused_at": None,
        "ended_at": None,
        "history_n": 0,
        "due_at": due_instant(fields["allocated_ms"], 0, now),
        "due_fired": False,
        "created_at": now,
        "updated_at": now,
        "version": 1,
        **fields,
    }


def _require(row: Row, allowed: tuple[str, ...], action: str) -> None:
    if row["status"] not in allowed:
        raise ApiError(
            ErrorCode.INVALID_TRANSITION,
            f"cannot {action} a {row['status']} timer",
            {"status": row["status"], "allowed_from": list(allowed)},
        )


def history_entry(row: Row, changes: Mapping[str, Any], now: int) -> dict[str, Any] | None:
    """Return the ``timer_history`` row a transition's changes put (None: they add none).

    A pause or a resume numbers its entry in ``history_n``; the entry says which
    it was, when, and the elapsed time then. Its slot is the number modulo
    HISTORY_MAX: it replaces the entry HISTORY_MAX before it.
    """
    n = changes.get("history_n")
    if n is None:
        return None
    action = "pause" if changes["status"] == PAUSED else "resume"
    elapsed = int(changes.get("accumulated_ms", row["accumulated_ms"]))
    entry = {"action": action, "at": iso_ms(now), "elapsed_ms": elapsed}
    return {"timer_id": row["id"], "slot": n % HISTORY_MAX, "entry": orjson.dumps(entry).decode()}


def pause(row: Row, now: int) -> dict[str, Any]:
    """Return the changes that pause a running timer."""
    _require(row, (RUNNING,), "pause")
    elapsed = elapsed_ms(row, now)
    return {
        "status": PAUSED,
        "accumulated_ms": elapsed,
        "segment_started_at": None,
        "paused_at": now,
        "due_at": None,
        "history_n": row["history_n"] + 1,
    }


def resume(row: Row, now: int) -> dict[str, Any]:
    """Return the changes that resume a paused timer."""
    _require(row, (PAUSED,), "resume")
    elapsed = int(row["accumulated_ms"])
    return {
        "status": RUNNING,
        "segment_started_at": now,
        "paused_at": None,
        "due_at": due_instant(row["allocated_ms"], elapsed, now),
        "history_n": row["history_n"] + 1,
    }


def finish(row: Row, now: int, status: str) -> dict[str, Any]:
    """Return the changes that end a timer as COMPLETED or CANCELLED."""
    _require(row, (RUNNING, PAUSED), "stop" if status == COMPLETED else "cancel")
    return {
        "status": status,
        "accumulated_ms": elapsed_ms(row, now),
        "segment_started_at": None,
        "ended_at": now,
        "due_at": None,
    }


def timer_change(row: Row, now: int) -> dict[str, Any]:
    """Return the timer as its events and the commands that change it carry it: every
    field but ``pause_history``, with ``elapsed_ms`` exact at ``server_time`` = ``now``.

    A change goes to every device of the owner and of each friend who may see the
    timer; the history (up to 50 entries) would be most of every frame, and of the
    row the change reads and writes. A client reads it with ``timer.get``.
    """
    due_at = row["due_at"] if row["status"] == RUNNING else None
    return {
        "id": row["id"],
        "owner_id": row["owner_id"],
        "title": row["title"],
        "description": row["description"],
        "schedule_id": row["schedule_id"],
        "todo_id": row["todo_id"],
        "tag_ids": orjson.loads(row["tag_ids"]),
        "allocated_ms": int(row["allocated_ms"]),
        "elapsed_ms": elapsed_ms(row, now),
        "status": row["status"],
        "started_at": iso_ms(row["started_at"]),
        "paused_at": iso_or_none(row["paused_at"]),
        "ended_at": iso_or_none(row["ended_at"]),
        "due_at": iso_or_none(due_at),
        "visibility": visibility_view(row),
        "created_at": iso_ms(row["created_at"]),
        "updated_at": iso_ms(row["updated_at"]),
        "version": int(row["version"]),
        "server_time": iso_ms(now),
    }


def timer_view(row: Row, now: int, history: str) -> dict[str, Any]:
    """Return the timer resource whole (reads), ``history`` its newest entries as a
    JSON array (``storage.timers.read_histories``)."""
    return {**timer_change(row, now), "pause_history": orjson.loads(history)}


def tick_entry(timer: Mapping[str, Any], owner: str, now: int, since_ms: int) -> dict[str, Any]:
    """Return a tick's view of a running timer last seen as ``timer`` at ``since_ms``."""
    elapsed = int(timer["elapsed_ms"]) + max(0, now - since_ms)
    allocated = int(timer["allocated_ms"])
    return {
        "id": timer["id"],
        "owner": owner,
        "status": "running",
        "elapsed_ms": elapsed,
        "remaining_ms": max(0, allocated - elapsed),
        "overtime_ms": max(0, elapsed - allocated),
    }
