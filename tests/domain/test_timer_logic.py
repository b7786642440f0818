"""Timer arithmetic as pure functions."""

from __future__ import annotations

import pytest

from server.domain.timers import logic
from server.errors import ApiError


def running(now: int = 1_000, allocated: int = 10_000) -> dict:
    values = logic.new_timer_values(
        "t1",
        "u1",
        {"allocated_ms": allocated, "title": "", "description": "", "tag_ids": "[]"},
        now,
    )
    return {**values, "schedule_id": None, "todo_id": None}


def test_elapsed_counts_the_running_segment_without_rounding():
    row = running(now=1_000)
    assert logic.elapsed_ms(row, 1_000) == 0
    assert logic.elapsed_ms(row, 2_337) == 1_337


def test_pause_accumulates_and_freezes():
    row = running(now=1_000)
    paused = {**row, **logic.pause(row, 4_500)}
    assert paused["status"] == "PAUSED"
    assert paused["accumulated_ms"] == 3_500
    assert logic.elapsed_ms(paused, 99_999) == 3_500
    assert paused["due_at"] is None


def test_resume_moves_due_by_the_pause():
    row = running(now=1_000, allocated=10_000)
    assert row["due_at"] == 11_000
    paused = {**row, **logic.pause(row, 3_000)}
    resumed = {**paused, **logic.resume(paused, 8_000)}
    assert resumed["due_at"] == 8_000 + 8_000
    assert logic.elapsed_ms(resumed, 9_000) == 3_000


def changed(row: dict, transition, now: int, entries: list[str]) -> dict:
    """Apply a transition, keeping the history entry it adds (as storage would)."""
    changes = transition(row, now)
    entry = logic.history_entry(row, changes, now)
    if entry is not None:
        assert entry["timer_id"] == row["id"]
        assert changes["history_n"] == len(entries) + 1
        assert entry["slot"] == changes["history_n"] % logic.HISTORY_MAX
        entries.append(entry["entry"])
    return {**row, **changes}


def test_history_records_each_pause_and_resume():
    row, entries = running(now=0), []
    paused = changed(row, logic.pause, 1_000, entries)
    resumed = changed(paused, logic.resume, 5_000, entries)
    view = logic.timer_view(resumed, 6_000, "[" + ",".join(entries) + "]")
    assert view["pause_history"] == [
        {"action": "pause", "at": "1970-01-01T00:00:01.000Z", "elapsed_ms": 1_000},
        {"action": "resume", "at": "1970-01-01T00:00:05.000Z", "elapsed_ms": 1_000},
    ]
    assert view["elapsed_ms"] == 2_000
    assert view["server_time"] == "1970-01-01T00:00:06.000Z"


def test_stop_and_cancel_add_no_history_entry():
    row, entries = running(now=0), []
    paused = changed(row, logic.pause, 1_000, entries)
    changed(paused, lambda r, n: logic.finish(r, n, logic.COMPLETED), 2_000, entries)
    changed(row, lambda r, n: logic.finish(r, n, logic.CANCELLED), 2_000, entries)
    assert len(entries) == 1


@pytest.mark.parametrize(
    ("action", "status"),
    [("pause", "PAUSED"), ("resume", "RUNNING"), ("stop", "COMPLETED"), ("cancel", "CANCELLED")],
)
def test_impossible_transitions_name_the_status(action, status):
    row = {**running(), "status": "COMPLETED"}
    transition = {
        "pause": logic.pause,
        "resume": logic.resume,
        "stop": lambda r, n: logic.finish(r, n, logic.COMPLETED),
        "cancel": lambda r, n: logic.finish(r, n, logic.CANCELLED),
    }[action]
    with pytest.raises(ApiError) as caught:
        transition(row, 5_000)
    assert caught.value.code == "invalid_transition"
    assert caught.value.details["status"] == "COMPLETED"


def test_stop_keeps_the_final_elapsed():
    row = running(now=1_000)
    done = {**row, **logic.finish(row, 61_000, logic.COMPLETED)}
    assert done["status"] == "COMPLETED"
    assert done["ended_at"] == 61_000
    assert logic.elapsed_ms(done, 999_999) == 60_000


def test_tick_entry_reports_overtime():
    timer = {"id": "t", "elapsed_ms": 9_000, "allocated_ms": 10_000}
    assert logic.tick_entry(timer, "u", now=13_000, since_ms=10_000) == {
        "id": "t",
        "owner": "u",
        "status": "running",
        "elapsed_ms": 12_000,
        "remaining_ms": 0,
        "overtime_ms": 2_000,
    }


def test_the_ring_of_slots_holds_the_newest_entries():
    row, entries, slots = running(now=0), [], {}
    for now in range(1, 2 * logic.HISTORY_MAX + 4):
        changes = (logic.pause if row["status"] == logic.RUNNING else logic.resume)(row, now)
        entry = logic.history_entry(row, changes, now)
        slots[entry["slot"]] = entry["entry"]  # as storage puts it: replacing the slot's
        entries.append(entry["entry"])
        row = {**row, **changes}
        assert len(slots) == min(len(entries), logic.HISTORY_MAX)
        assert sorted(slots.values()) == sorted(entries[-logic.HISTORY_MAX :])
    assert logic.history_entry(row, {"status": logic.COMPLETED}, 0) is None  # no entry
