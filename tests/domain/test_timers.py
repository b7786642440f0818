"""Timer commands over the real protocol, on the real database."""

from __future__ import annotations

import asyncio
import itertools
import uuid

import pytest
from sqlalchemy import func, select

from server.domain.timers.logic import HISTORY_MAX
from server.state import STATE
from server.storage.tables import events, timer_history, timers
from tests.wsclient import new_op

MISSING = "00000000-0000-4000-8000-000000000000"


async def count(client, table) -> int:
    async with client.server.app[STATE].services.db.read() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


async def test_start_creates_a_running_timer_with_server_time(device):
    dev = await device()
    timer = await dev.ok(
        "timer.start", {"allocated_ms": 1_500_000, "title": "Write", "description": "d"}
    )
    assert timer["status"] == "RUNNING"
    assert timer["owner_id"] == "alice"
    assert timer["title"] == "Write"
    assert timer["allocated_ms"] == 1_500_000
    assert 0 <= timer["elapsed_ms"] < 1000
    assert timer["server_time"].endswith("Z")
    assert timer["version"] == 1
    assert "pause_history" not in timer  # a change's result is the timer as its event carries it
    assert timer["due_at"] is not None
    uuid.UUID(timer["id"])


async def test_full_lifecycle_emits_one_event_each(device):
    dev = await device()
    timer = await dev.ok("timer.start", {"allocated_ms": 60_000})
    ident = {"id": timer["id"]}
    paused = await dev.ok("timer.pause", ident)
    assert paused["status"] == "PAUSED"
    assert paused["due_at"] is None
    resumed = await dev.ok("timer.resume", ident)
    assert resumed["status"] == "RUNNING"
    stopped = await dev.ok("timer.stop", ident)
    assert stopped["status"] == "COMPLETED"
    assert stopped["ended_at"] is not None
    events_ = await dev.wait_events(4)
    assert [e["name"] for e in events_] == [
        "timer.started",
        "timer.paused",
        "timer.resumed",
        "timer.stopped",
    ]
    assert [e["seq"] for e in events_] == [1, 2, 3, 4]
    # Events and the changes' results carry the timer without its history; timer.get whole.
    for reply in (paused, resumed, stopped):
        assert "pause_history" not in reply
    assert all("pause_history" not in e["data"] for e in events_)
    assert events_[-1]["data"] == stopped
    assert stopped["version"] == 4
    whole = await dev.ok("timer.get", ident)
    assert [a["action"] for a in whole["pause_history"]] == ["pause", "resume"]
    assert [a["at"] for a in whole["pause_history"]] == [paused["paused_at"], resumed["updated_at"]]
    assert {k: v for k, v in whole.items() if k not in ("pause_history", "server_time")} == {
        k: v for k, v in stopped.items() if k != "server_time"
    } | {"elapsed_ms": whole["elapsed_ms"]}


async def test_cancel_ends_as_cancelled(device):
    dev = await device()
    timer = await dev.ok("timer.start", {"allocated_ms": 60_000})
    assert (await dev.ok("timer.cancel", {"id": timer["id"]}))["status"] == "CANCELLED"


@pytest.mark.parametrize(
    ("first", "then", "status"),
    [
        ("timer.stop", "timer.pause", "COMPLETED"),
        ("timer.stop", "timer.resume", "COMPLETED"),
        ("timer.cancel", "timer.stop", "CANCELLED"),
        (None, "timer.resume", "RUNNING"),
        ("timer.pause", "timer.pause", "PAUSED"),
    ],
)
async def test_impossible_transition_is_refused_and_changes_nothing(device, first, then, status):
    dev = await device()
    timer = await dev.ok("timer.start", {"allocated_ms": 60_000})
    if first:
        await dev.ok(first, {"id": timer["id"]})
    before = await dev.ok("timer.get", {"id": timer["id"]})
    error = await dev.error(then, {"id": timer["id"]})
    assert error["code"] == "invalid_transition"
    assert error["details"]["status"] == status
    after = await dev.ok("timer.get", {"id": timer["id"]})
    assert after["version"] == before["version"]


async def test_reads_never_store_elapsed_time(device, client):
    dev = await device()
    timer = await dev.ok("timer.start", {"allocated_ms": 60_000})
    paused = await dev.ok("timer.pause", {"id": timer["id"]})
    reads = [await dev.ok("timer.get", {"id": timer["id"]}) for _ in range(3)]
    assert {r["elapsed_ms"] for r in reads} == {paused["elapsed_ms"]}
    assert {r["version"] for r in reads} == {2}
    resumed = await dev.ok("timer.resume", {"id": timer["id"]})
    await asyncio.sleep(0.05)
    later = await dev.ok("timer.get", {"id": timer["id"]})
    assert later["elapsed_ms"] >= resumed["elapsed_ms"] + 50
    assert later["version"] == resumed["version"]
    async with client.server.app[STATE].services.db.read() as conn:
        stored = (await conn.execute(select(timers.c.accumulated_ms))).scalar_one()
    assert stored == paused["elapsed_ms"]


async def test_unknown_or_foreign_timer_is_not_found(device):
    alice = await device("alice")
    bob = await device("bob")
    timer = await alice.ok("timer.start", {"allocated_ms": 60_000})
    for cmd in ("timer.get", "timer.pause", "timer.stop", "timer.delete"):
        error = await bob.error(cmd, {"id": timer["id"]})
        assert error["code"] == "not_found", cmd
    assert (await bob.error("timer.get", {"id": MISSING}))[
        "message"
    ] == f"timer {MISSING} does not exist"
    assert (await alice.ok("timer.get", {"id": timer["id"]}))["status"] == "RUNNING"


@pytest.mark.parametrize("field", ["schedule_id", "todo_id"])
async def test_links_to_resources_the_user_lacks_are_not_found(device, client, field):
    dev = await device()
    error = await dev.error("timer.start", {"allocated_ms": 1000, field: MISSING})
    assert error["code"] == "not_found"
    assert await count(client, timers) == 0


async def test_tags_the_user_lacks_are_not_found(device):
    dev = await device()
    error = await dev.error("timer.start", {"allocated_ms": 1000, "tag_ids": [MISSING]})
    assert error["code"] == "not_found"
    repeated = await dev.error("timer.start", {"allocated_ms": 1000, "tag_ids": [MISSING, MISSING]})
    assert repeated["code"] == "validation_error"


async def test_update_is_partial_and_null_rules_hold(device):
    dev = await device()
    timer = await dev.ok(
        "timer.start", {"allocated_ms": 60_000, "title": "a", "description": "keep"}
    )
    updated = await dev.ok("timer.update", {"id": timer["id"], "title": "b"})
    assert updated["title"] == "b"
    assert updated["description"] == "keep"
    assert updated["version"] == 2
    error = await dev.error("timer.update", {"id": timer["id"], "title": None})
    assert error["code"] == "validation_error"
    cleared = await dev.ok("timer.update", {"id": timer["id"], "schedule_id": None})
    assert cleared["schedule_id"] is None
    names = [e["name"] for e in await dev.wait_events(3)]
    assert names == ["timer.started", "timer.updated", "timer.updated"]


async def test_if_version_mismatch_is_conflict_and_changes_nothing(device):
    dev = await device()
    timer = await dev.ok("timer.start", {"allocated_ms": 60_000})
    error = await dev.error("timer.update", {"id": timer["id"], "title": "x", "if_version": 7})
    assert error == {
        "code": "conflict",
        "message": "the timer was changed meanwhile",
        "details": {"version": 1},
    }
    ok = await dev.ok("timer.pause", {"id": timer["id"], "if_version": 1})
    assert ok["version"] == 2
    assert (await dev.ok("timer.get", {"id": timer["id"]}))["title"] == ""


async def test_delete_emits_deleted_with_just_the_id(device):
    dev = await device()
    timer = await dev.ok("timer.start", {"allocated_ms": 60_000})
    assert await dev.ok("timer.delete", {"id": timer["id"]}) == {"id": timer["id"]}
    events_ = await dev.wait_events(2)
    assert events_[1]["name"] == "timer.deleted"
    assert events_[1]["data"] == {"id": timer["id"]}
    assert (await dev.error("timer.get", {"id": timer["id"]}))["code"] == "not_found"


async def test_active_lists_running_and_paused_only(device):
    dev = await device()
    a = await dev.ok("timer.start", {"allocated_ms": 60_000, "title": "a"})
    b = await dev.ok("timer.start", {"allocated_ms": 60_000, "title": "b"})
    c = await dev.ok("timer.start", {"allocated_ms": 60_000, "title": "c"})
    await dev.ok("timer.pause", {"id": b["id"]})
    await dev.ok("timer.stop", {"id": c["id"]})
    active = await dev.ok("timer.active")
    assert [(t["title"], t["status"]) for t in active["items"]] == [
        ("a", "RUNNING"),
        ("b", "PAUSED"),
    ]
    assert active["server_time"].endswith("Z")
    assert a["id"] == active["items"][0]["id"]


async def test_list_pages_newest_first_with_a_cursor(device):
    dev = await device()
    made = [await dev.ok("timer.start", {"allocated_ms": 1000, "title": str(i)}) for i in range(5)]
    first = await dev.ok("timer.list", {"limit": 2})
    second = await dev.ok("timer.list", {"limit": 2, "cursor": first["next_cursor"]})
    third = await dev.ok("timer.list", {"limit": 2, "cursor": second["next_cursor"]})
    titles = [t["title"] for page in (first, second, third) for t in page["items"]]
    # Newest first; timers started in the same millisecond by id, descending.
    newest = sorted(made, key=lambda t: (t["created_at"], t["id"]), reverse=True)
    assert titles == [t["title"] for t in newest]
    assert third["next_cursor"] is None
    assert {t["id"] for t in made} == {
        t["id"] for page in (first, second, third) for t in page["items"]
    }


async def test_list_filters_by_status_kind_and_window(device):
    dev = await device()
    a = await dev.ok("timer.start", {"allocated_ms": 1000})
    await dev.ok("timer.start", {"allocated_ms": 1000})
    await dev.ok("timer.stop", {"id": a["id"]})
    done = await dev.ok("timer.list", {"status": "COMPLETED"})
    assert [t["id"] for t in done["items"]] == [a["id"]]
    assert len((await dev.ok("timer.list", {"type": "independent"}))["items"]) == 2
    assert (await dev.ok("timer.list", {"type": "schedule"}))["items"] == []
    window = await dev.ok(
        "timer.list", {"from": "2000-01-01T00:00:00Z", "to": "2001-01-01T00:00:00+02:00"}
    )
    assert window["items"] == []
    everything = await dev.ok("timer.list", {"from": a["started_at"]})
    assert len(everything["items"]) == 2


async def test_list_rejects_bad_cursor_and_naive_instants(device):
    dev = await device()
    assert (await dev.error("timer.list", {"cursor": "garbage"}))["code"] == "validation_error"
    error = await dev.error("timer.list", {"from": "2026-01-01T00:00:00"})
    assert error["details"] == {"field": "from"}


async def test_single_running_timer_pauses_the_other(start_server, token):
    from tests.wsclient import Device

    server = await start_server(single_running_timer=True)
    dev = await Device.connect(server, token())
    first = await dev.ok("timer.start", {"allocated_ms": 60_000})
    second = await dev.ok("timer.start", {"allocated_ms": 60_000})
    active = {t["id"]: t["status"] for t in (await dev.ok("timer.active"))["items"]}
    assert active == {first["id"]: "PAUSED", second["id"]: "RUNNING"}
    await dev.ok("timer.resume", {"id": first["id"]})
    active = {t["id"]: t for t in (await dev.ok("timer.active"))["items"]}
    assert {ident: t["status"] for ident, t in active.items()} == {
        first["id"]: "RUNNING",
        second["id"]: "PAUSED",
    }
    # The pauses the rule made are in the histories like any other.
    assert [e["action"] for e in active[first["id"]]["pause_history"]] == ["pause", "resume"]
    assert [e["action"] for e in active[second["id"]]["pause_history"]] == ["pause"]
    await dev.close()


async def test_single_running_timer_histories_keep_their_newest_entries(start_server, token):
    from tests.wsclient import Device

    server = await start_server(single_running_timer=True)
    dev = await Device.connect(server, token())
    first = await dev.ok("timer.start", {"allocated_ms": 3_600_000})
    second = await dev.ok("timer.start", {"allocated_ms": 3_600_000})
    for i in range(HISTORY_MAX + 3):  # each resume pauses the other: both rings wrap
        await dev.ok("timer.resume", {"id": (first if i % 2 == 0 else second)["id"]})
    for timer in (await dev.ok("timer.active"))["items"]:
        shown = timer["pause_history"]
        actions = [e["action"] for e in shown]
        assert len(shown) == HISTORY_MAX
        assert all(a != b for a, b in itertools.pairwise(actions))
        assert actions[-1] == ("pause" if timer["status"] == "PAUSED" else "resume")
        assert [e["at"] for e in shown] == sorted(e["at"] for e in shown)
    await dev.close()


async def history_slots(client, timer_id: str) -> list[int]:
    """Return the slots of the history rows stored for a timer."""
    async with client.server.app[STATE].services.db.read() as conn:
        stmt = select(timer_history.c.slot).where(timer_history.c.timer_id == timer_id)
        return sorted(row.slot for row in await conn.execute(stmt))


async def test_the_history_shows_the_newest_entries_and_storage_keeps_only_those(device, client):
    dev = await device()
    timer = await dev.ok("timer.start", {"allocated_ms": 3_600_000})
    ident = {"id": timer["id"]}
    changes = []
    for i in range(2 * HISTORY_MAX + 3):  # round the ring twice, and a little more
        changes.append(await dev.ok("timer.pause" if i % 2 == 0 else "timer.resume", ident))
        if len(changes) in (3, HISTORY_MAX, 2 * HISTORY_MAX + 3):
            assert await history_slots(client, timer["id"]) == sorted(
                {
                    n % HISTORY_MAX
                    for n in range(max(1, len(changes) - HISTORY_MAX + 1), len(changes) + 1)
                }
            )
    for whole in (
        await dev.ok("timer.get", ident),
        (await dev.ok("timer.list", {}))["items"][0],
        (await dev.ok("timer.active", {}))["items"][0],
    ):
        shown = whole["pause_history"]
        assert len(shown) == HISTORY_MAX
        newest = changes[-HISTORY_MAX:]
        assert [e["action"] for e in shown] == [
            "pause" if c["status"] == "PAUSED" else "resume" for c in newest
        ]
        assert [e["at"] for e in shown] == [c["updated_at"] for c in newest]
        assert [e["elapsed_ms"] for e in shown] == [
            c["elapsed_ms"] if c["status"] == "PAUSED" else changes[i - 1]["elapsed_ms"]
            for i, c in enumerate(newest, start=len(changes) - HISTORY_MAX)
        ]
    # A deleted timer takes its history with it.
    await dev.ok("timer.delete", ident)
    assert await history_slots(client, timer["id"]) == []


async def test_repeated_op_id_returns_the_first_reply_and_changes_nothing(device, client):
    dev = await device()
    op = new_op()
    first = await dev.call("timer.start", {"allocated_ms": 60_000, "title": "once"}, op_id=op)
    again = await dev.call("timer.start", {"allocated_ms": 60_000, "title": "once"}, op_id=op)
    assert first["ok"] is True
    assert "replayed" not in first
    assert again["replayed"] is True
    assert again["data"] == first["data"]
    assert await count(client, timers) == 1
    assert await count(client, events) == 1
    events_ = await dev.wait_events(1)
    assert events_[0]["op_id"] == op


async def test_a_pause_repeated_after_a_resume_is_answered_not_applied(device):
    # The repeat passes every check (the timer runs again), so only the op store's
    # key stops it: the change and its event are not written.
    dev = await device()
    timer = await dev.ok("timer.start", {"allocated_ms": 60_000})
    op = new_op()
    paused = await dev.ok("timer.pause", {"id": timer["id"]}, op_id=op)
    resumed = await dev.ok("timer.resume", {"id": timer["id"]})
    again = await dev.call("timer.pause", {"id": timer["id"]}, op_id=op)
    assert (again["ok"], again.get("replayed"), again["data"]) == (True, True, paused)
    now = await dev.ok("timer.get", {"id": timer["id"]})
    assert (now["status"], now["version"]) == ("RUNNING", resumed["version"])
    assert [e["seq"] for e in await dev.wait_events(3)] == [1, 2, 3]
    await dev.ok("ping")
    assert len(dev.events) == 3


async def test_repeated_stop_with_op_id_answers_the_stored_state(device):
    dev = await device()
    timer = await dev.ok("timer.start", {"allocated_ms": 60_000})
    op = new_op()
    stopped = await dev.ok("timer.stop", {"id": timer["id"]}, op_id=op)
    again = await dev.call("timer.stop", {"id": timer["id"]}, op_id=op)
    assert again["ok"] is True
    assert again["data"] == stopped
    plain = await dev.error("timer.stop", {"id": timer["id"]})
    assert plain["code"] == "invalid_transition"


async def test_op_id_reused_for_another_command_is_conflict(device):
    dev = await device()
    op = new_op()
    timer = await dev.ok("timer.start", {"allocated_ms": 60_000}, op_id=op)
    error = await dev.error("timer.pause", {"id": timer["id"]}, op_id=op)
    assert error["code"] == "conflict"
    assert error["details"]["command"] == "timer.start"


async def test_failed_command_with_op_id_can_be_retried(device):
    dev = await device()
    timer = await dev.ok("timer.start", {"allocated_ms": 60_000})
    op = new_op()
    assert (await dev.error("timer.resume", {"id": timer["id"]}, op_id=op))[
        "code"
    ] == "invalid_transition"
    await dev.ok("timer.pause", {"id": timer["id"]})
    assert (await dev.ok("timer.resume", {"id": timer["id"]}, op_id=op))["status"] == "RUNNING"


async def test_op_ids_are_per_user(device):
    alice = await device("alice")
    bob = await device("bob")
    op = new_op()
    a = await alice.call("timer.start", {"allocated_ms": 1000}, op_id=op)
    b = await bob.call("timer.start", {"allocated_ms": 1000}, op_id=op)
    assert "replayed" not in b
    assert a["data"]["id"] != b["data"]["id"]


async def test_concurrent_repeats_of_one_op_apply_once(device, client):
    devices = [await device() for _ in range(4)]
    op = new_op()
    sent = [await d.send("timer.start", {"allocated_ms": 60_000}, op_id=op) for d in devices]
    replies = [await d.result(cid) for d, cid in zip(devices, sent, strict=True)]
    assert all(r["ok"] for r in replies)
    assert len({r["data"]["id"] for r in replies}) == 1
    assert sum(1 for r in replies if r.get("replayed")) == 3
    assert await count(client, timers) == 1
