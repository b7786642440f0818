"""Rules that span rows hold under concurrent writers: two devices race pairs of commands.

On PostgreSQL the devices sit on two server instances (one database, one Redis),
so the commands run in two processes' transactions at once; the embedded
default has one writer and runs the same races on one instance. After every
round the invariants are read back from the database, and no reply may be
``internal_error``: a lost race is a domain answer (conflict, not_found,
cycle_detected, group_mismatch) or a success.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import orjson
import pytest

from server.storage.tables import events, timers
from tests.conftest import PG_URL
from tests.integrity.invariants import all_violations, codes, history_violations, race, read_rows
from tests.wsclient import Device, new_op

ROUNDS = 40 if PG_URL else 8
DEADLINE = "2030-01-01T09:00:00Z"


@pytest.fixture
async def pair(instances, devices):
    """Two devices of one user, on two instances."""
    servers = await instances()
    return servers[0], await devices(servers, "ana", "ana")


async def todo(dev: Device, group: str, title: str, **fields: Any) -> dict[str, Any]:
    return dict(await dev.ok("todo.create", {"title": title, "tag_group_id": group, **fields}))


async def rounds(pair, play) -> Counter[str]:
    """Play ``ROUNDS`` races; assert no internal error and no broken invariant; count outcomes."""
    client, (a, b) = pair
    outcomes: Counter[str] = Counter()
    group = (await a.ok("tag_group.create", {"name": "Work"}))["id"]
    other = (await a.ok("tag_group.create", {"name": "Home"}))["id"]
    for n in range(ROUNDS):
        replies = await play(a, b, group, other, n)
        got = codes(replies)
        assert "internal_error" not in got, replies
        outcomes[" ".join(got)] += 1
    assert await all_violations(client, "ana") == []
    return outcomes


async def test_crossed_reparents_never_close_a_cycle(pair):
    async def play(a, b, group, _other, n):
        x, y = await todo(a, group, f"x{n}"), await todo(a, group, f"y{n}")
        return await race(
            a,
            b,
            ("todo.update", {"id": x["id"], "parent_id": y["id"]}),
            ("todo.update", {"id": y["id"], "parent_id": x["id"]}),
        )

    outcomes = await rounds(pair, play)
    assert set(outcomes) <= {"ok cycle_detected", "cycle_detected ok"}, outcomes


async def test_reparent_racing_the_parents_delete_leaves_no_dangling_parent(pair):
    async def play(a, b, group, _other, n):
        parent, child = await todo(a, group, f"p{n}"), await todo(a, group, f"c{n}")
        return await race(
            a,
            b,
            ("todo.update", {"id": child["id"], "parent_id": parent["id"]}),
            ("todo.delete", {"id": parent["id"]}),
        )

    outcomes = await rounds(pair, play)
    assert set(outcomes) <= {"ok ok", "not_found ok"}, outcomes


async def test_parent_changing_group_while_a_child_attaches(pair):
    async def play(a, b, group, other, n):
        parent, child = await todo(a, group, f"p{n}"), await todo(a, group, f"c{n}")
        return await race(
            a,
            b,
            ("todo.update", {"id": parent["id"], "tag_group_id": other}),
            ("todo.update", {"id": child["id"], "parent_id": parent["id"]}),
        )

    outcomes = await rounds(pair, play)
    assert set(outcomes) <= {"ok group_mismatch", "group_mismatch ok"}, outcomes


async def test_deleting_a_parent_while_its_children_change(pair):
    """The promoted children's events carry the rows as committed, whatever ran first."""

    async def play(a, b, group, _other, n):
        parent = await todo(a, group, f"p{n}")
        child = await todo(a, group, f"c{n}", parent_id=parent["id"])
        return await race(
            a,
            b,
            ("todo.delete", {"id": parent["id"]}),
            ("todo.update", {"id": child["id"], "title": f"renamed {n}"}),
        )

    outcomes = await rounds(pair, play)
    assert set(outcomes) == {"ok ok"}, outcomes


async def test_two_renames_to_one_name_give_one_conflict(pair):
    async def play(a, b, group, _other, n):
        first = await a.ok("tag.create", {"group_id": group, "name": f"a{n}"})
        second = await a.ok("tag.create", {"group_id": group, "name": f"b{n}"})
        return await race(
            a,
            b,
            ("tag.update", {"id": first["id"], "name": f"Same{n}"}),
            ("tag.update", {"id": second["id"], "name": f"same{n}"}),
        )

    outcomes = await rounds(pair, play)
    assert set(outcomes) <= {"ok conflict", "conflict ok"}, outcomes


async def test_two_creates_of_one_name_give_one_conflict(pair):
    async def play(a, b, group, _other, n):
        data = {"group_id": group, "name": f"tag {n}"}
        return await race(a, b, ("tag.create", data), ("tag.create", data))

    outcomes = await rounds(pair, play)
    assert set(outcomes) <= {"ok conflict", "conflict ok"}, outcomes


async def test_concurrent_deletes_of_a_group_and_its_parts(pair):
    async def play(a, b, _group, _other, n):
        group = (await a.ok("tag_group.create", {"name": f"g{n}"}))["id"]
        tag = await a.ok("tag.create", {"group_id": group, "name": "t"})
        parent = await todo(a, group, "p", tag_ids=[tag["id"]], deadline=DEADLINE)
        await todo(a, group, "c", parent_id=parent["id"], tag_ids=[tag["id"]])
        first, second = (
            [("tag_group.delete", {"id": group}), ("tag.delete", {"id": tag["id"]})]
            if n % 2
            else [("tag_group.delete", {"id": group}), ("todo.delete", {"id": parent["id"]})]
        )
        return await race(a, b, first, second)

    outcomes = await rounds(pair, play)
    assert set(outcomes) <= {"ok ok", "ok not_found"}, outcomes


async def test_deadline_edits_keep_one_schedule_per_todo(pair):
    async def play(a, b, group, _other, n):
        item = await todo(a, group, f"d{n}")
        return await race(
            a,
            b,
            ("todo.update", {"id": item["id"], "deadline": DEADLINE}),
            ("todo.update", {"id": item["id"], "deadline": "2030-02-01T09:00:00Z"}),
        )

    outcomes = await rounds(pair, play)
    assert set(outcomes) == {"ok ok"}, outcomes


async def test_deleting_a_todo_while_its_deadline_schedule_goes(pair):
    async def play(a, b, group, _other, n):
        item = await todo(a, group, f"s{n}", deadline=DEADLINE)
        schedule_id = item["schedule_ids"][0]
        return await race(
            a,
            b,
            ("schedule.delete", {"id": schedule_id}),
            ("todo.update", {"id": item["id"], "deadline": "2030-03-01T09:00:00Z"}),
        )

    outcomes = await rounds(pair, play)
    assert set(outcomes) <= {"ok ok", "not_found ok"}, outcomes


async def test_one_running_timer_when_two_start_at_once(instances, devices):
    servers = await instances(single_running_timer=True)
    pair = (servers[0], await devices(servers, "ana", "ana"))

    async def play(a, b, _group, _other, n):
        start = ("timer.start", {"allocated_ms": 60_000, "title": f"t{n}"})
        return await race(a, b, start, start)

    outcomes = await rounds(pair, play)
    assert set(outcomes) == {"ok ok"}, outcomes
    running = [t for t in await read_rows(servers[0], timers) if t["status"] == "RUNNING"]
    assert len(running) == 1, running


async def test_one_op_sent_by_two_devices_applies_once(pair):
    # The op store is read only when a command did not apply: the loser of each
    # race either finds the op taken at commit or fails the check the winner
    # changed (the timer is already paused); both answer with the first reply.
    client, (a, b) = pair
    timer = await a.ok("timer.start", {"allocated_ms": 60_000})
    for n in range(ROUNDS):
        verb = "timer.pause" if n % 2 == 0 else "timer.resume"
        command = (verb, {"id": timer["id"]})
        replies = await race(a, b, command, command, op_id=new_op())
        assert codes(replies) == ["ok", "ok"], replies
        assert sorted(bool(r.get("replayed")) for r in replies) == [False, True], replies
        assert replies[0]["data"] == replies[1]["data"]
    [row] = await read_rows(client, timers)
    assert row["version"] == 1 + ROUNDS  # each op applied exactly once
    assert row["history_n"] == ROUNDS  # and wrote one history entry
    assert await history_violations(client) == []


async def test_a_transition_racing_an_edit_loses_neither(pair):
    # A transition writes its row only at the version it read (one statement, no
    # lock); an edit in between makes it read again, so neither change is lost.
    client, (a, b) = pair
    timer = await a.ok("timer.start", {"allocated_ms": 60_000})
    for n in range(ROUNDS):
        verb = "timer.pause" if n % 2 == 0 else "timer.resume"
        edit = ("timer.update", {"id": timer["id"], "title": f"t{n}"})
        replies = await race(a, b, (verb, {"id": timer["id"]}), edit)
        assert codes(replies) == ["ok", "ok"], replies
    [row] = await read_rows(client, timers)
    assert row["version"] == 1 + 2 * ROUNDS
    assert (row["title"], row["status"]) == (f"t{ROUNDS - 1}", "RUNNING")
    logged = [orjson.loads(e["frame"]) for e in await read_rows(client, events)]
    versions = [e["data"]["version"] for e in sorted(logged, key=lambda e: e["seq"])]
    assert versions == list(range(1, 2 + 2 * ROUNDS))  # one event per version, in order
    assert row["history_n"] == ROUNDS
    assert await history_violations(client) == []


async def test_transitions_from_two_instances_see_what_the_other_wrote(pair):
    client, (a, b) = pair
    timer = await a.ok("timer.start", {"allocated_ms": 60_000})
    ident = {"id": timer["id"]}
    for n in range(ROUNDS):
        first, second = (a, b) if n % 2 == 0 else (b, a)
        await first.ok("timer.pause", ident)
        await second.ok("timer.resume", ident)
        assert (await first.ok("timer.pause", ident))["status"] == "PAUSED"
        assert (await second.error("timer.pause", ident))["code"] == "invalid_transition"
        await second.ok("timer.resume", ident)
    await b.ok("timer.delete", ident)
    assert (await a.error("timer.pause", ident))["code"] == "not_found"
    assert await read_rows(client, timers) == []
