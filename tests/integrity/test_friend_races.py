"""Friendship rules under concurrent writers: one row per pair, allow-lists name only friends.

The two users sit on two server instances (one database) on PostgreSQL, so each
pair of commands runs in two processes' transactions at once.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from server.storage.tables import friendships
from tests.conftest import PG_URL
from tests.integrity.invariants import codes, friendship_violations, race, read_rows
from tests.wsclient import Device

ROUNDS = 30 if PG_URL else 6


async def code_of(dev: Device) -> str:
    return str((await dev.ok("user.me"))["friend_code"])


async def befriend(ana: Device, ben: Device) -> str:
    asked = await ana.ok("friend.request", {"friend_code": await code_of(ben)})
    await ben.ok("friend.accept", {"id": asked["friendship"]["id"]})
    return str(asked["friendship"]["id"])


async def test_crossed_requests_make_one_friendship(instances, devices):
    servers = await instances()
    outcomes: Counter[str] = Counter()
    for n in range(ROUNDS):
        ana, ben = await devices(servers, f"ana{n}", f"ben{n}")
        replies = await race(
            ana,
            ben,
            ("friend.request", {"friend_code": await code_of(ben)}),
            ("friend.request", {"friend_code": await code_of(ana)}),
        )
        outcomes[" ".join(codes(replies))] += 1
        statuses = sorted(r["data"]["friendship"]["status"] for r in replies if r["ok"])
        assert statuses == ["accepted", "pending"], replies
    rows = await read_rows(servers[0], friendships)
    assert len(rows) == ROUNDS
    assert {row["status"] for row in rows} == {"accepted"}
    assert outcomes == {"ok ok": ROUNDS}


async def test_an_allow_list_never_names_someone_who_stopped_being_a_friend(instances, devices):
    servers = await instances()
    outcomes: Counter[str] = Counter()
    for n in range(ROUNDS):
        ana, ben = await devices(servers, f"ana{n}", f"ben{n}")
        friendship = await befriend(ana, ben)
        group = (await ben.ok("tag_group.create", {"name": "g"}))["id"]
        item = await ben.ok("todo.create", {"title": "t", "tag_group_id": group})
        selected: dict[str, Any] = {
            "resource_type": "todo",
            "resource_id": item["id"],
            "level": "selected",
            "allowed_user_ids": [f"ana{n}"],
        }
        unfriend = ("friend.remove", {"id": friendship})
        # Half the rounds end the friendship by blocking instead.
        if n % 2:
            unfriend = ("friend.block", {"user_id": f"ben{n}"})
        replies = await race(ana, ben, unfriend, ("visibility.set", selected))
        got = codes(replies)
        assert "internal_error" not in got, replies
        outcomes[" ".join(got)] += 1
    assert set(outcomes) <= {"ok ok", "ok validation_error"}, outcomes
    assert await friendship_violations(servers[0]) == []


async def test_accept_racing_a_cancel_leaves_one_answer(instances, devices):
    servers = await instances()
    outcomes: Counter[str] = Counter()
    for n in range(ROUNDS):
        ana, ben = await devices(servers, f"ana{n}", f"ben{n}")
        asked = await ana.ok("friend.request", {"friend_code": await code_of(ben)})
        ident = asked["friendship"]["id"]
        replies = await race(
            ana, ben, ("friend.cancel", {"id": ident}), ("friend.accept", {"id": ident})
        )
        outcomes[" ".join(codes(replies))] += 1
    assert set(outcomes) <= {"ok not_found", "invalid_transition ok"}, outcomes
    rows = await read_rows(servers[0], friendships)
    accepted = sum(1 for row in rows if row["status"] == "accepted")
    assert accepted == outcomes["invalid_transition ok"]
    assert len(rows) == accepted
