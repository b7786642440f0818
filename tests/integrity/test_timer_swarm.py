"""Many users' devices on two instances pause and resume timers at once: on PostgreSQL
the transitions are written in batches (the write lane), and each lands exactly once."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from typing import Any

from server.state import STATE
from server.storage.tables import timers
from server.storage.write_lane import lane_of
from tests.conftest import PG_URL
from tests.integrity.invariants import history_violations, read_rows
from tests.wsclient import Device, new_op

USERS = [f"swarm-{n}" for n in range(8)]
TIMERS = 2  # per user: two devices of one user often pick the same one
STEPS = 20 if PG_URL else 6
# A pause of a timer the other device just paused is refused: the domain's answer.
ALLOWED = {"ok", "invalid_transition"}


async def batch_from_the_first(server: Any) -> Any:
    """Make the instance's lane batch every transition that finds another under way."""
    async with server.server.app[STATE].services.db.one_statement() as tx:
        lane = lane_of(tx.conn)
    lane.batch_from = 1
    return lane


async def toggle(dev: Device, seed: int, ids: list[str]) -> Counter[str]:
    """Send ``STEPS`` pauses and resumes of the user's timers, each with an op_id, and
    send some that applied again; count the outcomes and check each repeat's answer."""
    rng = random.Random(seed)
    seen: Counter[str] = Counter()
    for step in range(STEPS):
        verb = rng.choice(["timer.pause", "timer.resume"])
        command, op_id = (verb, {"id": rng.choice(ids)}), new_op()
        frame = await dev.result(await dev.send(*command, op_id=op_id), 30)
        code = "ok" if frame["ok"] else frame["error"]["code"]
        seen[code] += 1
        if frame["ok"] and step % 3 == 0:  # a refused command stored nothing
            again = await dev.result(await dev.send(*command, op_id=op_id), 30)
            assert again.get("replayed") is True, again
            assert again["data"] == frame["data"]
    return seen


async def test_a_swarm_of_transitions_on_two_instances_lands_each_once(instances, devices):
    servers = await instances()
    lanes = [await batch_from_the_first(s) for s in servers] if PG_URL else []
    fleet = {user: await devices(servers, user, user) for user in USERS}  # one on each
    ids = {
        user: [
            (await group[0].ok("timer.start", {"allocated_ms": 600_000}))["id"]
            for _ in range(TIMERS)
        ]
        for user, group in fleet.items()
    }
    work = [
        toggle(dev, seed=n * 10 + k, ids=ids[user])
        for n, (user, group) in enumerate(fleet.items())
        for k, dev in enumerate(group)
    ]
    outcomes = sum(await asyncio.gather(*work), Counter())
    assert set(outcomes) <= ALLOWED, outcomes
    assert outcomes["ok"] > 0
    if PG_URL:
        assert all(lane.batches > 0 for lane in lanes), [lane.counts() for lane in lanes]

    rows = {row["id"]: row for row in await read_rows(servers[0], timers)}
    applied = {user: sum(rows[t]["history_n"] for t in ids[user]) for user in USERS}
    assert sum(applied.values()) == outcomes["ok"]  # each applied once, repeats not again
    for user, group in fleet.items():
        for timer in ids[user]:  # every transition that applied bumped the version once
            assert rows[timer]["version"] == 1 + rows[timer]["history_n"]
        expected = TIMERS + applied[user]  # the starts, then one event per transition
        for dev in group:
            events = await dev.wait_events(expected, timeout=20)
            assert [e["seq"] for e in events] == list(range(1, expected + 1)), user
    assert await history_violations(servers[0]) == []
