"""A populated account for REST tests: every read answers with real items, not empty lists."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.wsclient import Device

NY = "America/New_York"


@dataclass(frozen=True)
class Seeded:
    """The ids a REST test can ask for."""

    group_id: str
    tag_id: str
    todo_id: str
    series_id: str
    feed_token: str
    friend_id: str
    meeting_id: str


async def seed_account(client: Any, token: Any) -> Seeded:
    """Give alice tags, timers, todos, schedules, a feed, a friend (bob), a request (carol)
    and a meeting poll in which she and bob painted cells."""
    alice = await Device.connect(client, token("alice", email="alice@example.com"))
    bob = await Device.connect(client, token("bob"))
    carol = await Device.connect(client, token("carol"))
    try:
        group, tag = await _tags(alice)
        todo = await _todos(alice, group["id"], tag["id"])
        await _timers(alice, tag["id"], todo["id"])
        series = await _schedules(alice, tag["id"])
        feed = await alice.ok("calendar_feed.create")
        await _friends(alice, bob, carol)
        meeting_id = await _meeting(alice, bob)
        ids = (group["id"], tag["id"], todo["id"], series["id"], feed["token"], "bob", meeting_id)
        return Seeded(*ids)
    finally:
        for dev in (alice, bob, carol):
            await dev.close()


async def _tags(alice: Device) -> tuple[dict[str, Any], dict[str, Any]]:
    group = await alice.ok("tag_group.create", {"name": "Work", "color": "#3366cc"})
    tag = await alice.ok("tag.create", {"group_id": group["id"], "name": "Deep work"})
    await alice.ok("tag.create", {"group_id": group["id"], "name": "Admin"})
    return group, tag


async def _todos(alice: Device, group_id: str, tag_id: str) -> dict[str, Any]:
    parent = await alice.ok("todo.create", {"title": "Report", "tag_group_id": group_id})
    return await alice.ok(
        "todo.create",
        {
            "title": "Collect the numbers",
            "tag_group_id": group_id,
            "parent_id": parent["id"],
            "deadline": "2026-03-13T13:00:00+01:00",
            "tag_ids": [tag_id],
        },
    )


async def _timers(alice: Device, tag_id: str, todo_id: str) -> None:
    running = await alice.ok("timer.start", {"allocated_ms": 1_500_000, "tag_ids": [tag_id]})
    paused = await alice.ok("timer.start", {"allocated_ms": 600_000, "todo_id": todo_id})
    await alice.ok("timer.pause", {"id": paused["id"]})
    done = await alice.ok("timer.start", {"allocated_ms": 60_000, "title": "Tea"})
    await alice.ok("timer.stop", {"id": done["id"]})
    await alice.ok(
        "visibility.set",
        {"resource_type": "timer", "resource_id": running["id"], "level": "friends"},
    )


async def _schedules(alice: Device, tag_id: str) -> dict[str, Any]:
    series = await alice.ok(
        "schedule.create",
        {
            "title": "Standup",
            "start_time": "2026-03-02T09:00:00-05:00",
            "end_time": "2026-03-02T09:30:00-05:00",
            "timezone": NY,
            "recurrence_rule": "FREQ=WEEKLY;BYDAY=MO",
            "tag_ids": [tag_id],
        },
    )
    await alice.ok(
        "schedule.update",
        {
            "id": f"{series['id']}:20260309T130000Z",
            "title": "Standup (moved)",
            "start_time": "2026-03-10T09:00:00-04:00",
            "end_time": "2026-03-10T09:30:00-04:00",
        },
    )
    await alice.ok(
        "schedule.create",
        {
            "title": "Dentist",
            "start_time": "2026-03-12T15:00:00Z",
            "end_time": "2026-03-12T16:00:00Z",
            "timezone": "UTC",
        },
    )
    return series


async def _friends(alice: Device, bob: Device, carol: Device) -> None:
    asked = await alice.ok(
        "friend.request", {"friend_code": (await bob.ok("user.me"))["friend_code"]}
    )
    await bob.ok("friend.accept", {"id": asked["friendship"]["id"]})
    await carol.ok("friend.request", {"friend_code": (await alice.ok("user.me"))["friend_code"]})
    bobs = await bob.ok("timer.start", {"allocated_ms": 900_000, "title": "Bob's focus"})
    await bob.ok(
        "visibility.set", {"resource_type": "timer", "resource_id": bobs["id"], "level": "friends"}
    )


async def _meeting(alice: Device, bob: Device) -> str:
    meeting = await alice.ok(
        "meeting.create",
        {
            "title": "Planning",
            "start_date": "2026-03-02",
            "end_date": "2026-03-06",
            "start_time": "09:00",
            "end_time": "12:00",
            "timezone": "Europe/Berlin",
        },
    )
    data = {"resource_type": "meeting", "resource_id": meeting["id"], "level": "friends"}
    await alice.ok("visibility.set", data)
    for dev, name, cells in [
        (alice, "Alice", ["2026-03-02T08:00:00Z", "2026-03-02T08:30:00Z"]),
        (bob, "Bob", ["2026-03-02T08:30:00Z"]),
    ]:
        join = {"share_token": meeting["share_token"], "display_name": name}
        joined = await dev.ok("meeting.join", join)
        cells_data = {"participant_id": joined["participant"]["id"], "cells": cells}
        await dev.ok("meeting.availability.set", cells_data)
    return str(meeting["id"])
