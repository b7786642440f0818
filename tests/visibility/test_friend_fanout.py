"""Live and replayed delivery of a friend's topic: exactly what the predicate allows."""

from __future__ import annotations

from typing import Any

import pytest

from server.state import STATE
from tests.conftest import requires_postgres, requires_redis
from tests.visibility.fanout_helpers import Marker, befriend, share
from tests.wsclient import Device


@pytest.fixture
async def pair(device: Any) -> tuple[Device, Device, Marker]:
    """Alice and her friend Bob, Bob subscribed to Alice's topic."""
    alice = await device("alice")
    bob = await device("bob")
    await befriend(alice, bob)
    await bob.ok("subscribe", {"topic": "user:alice"})
    marker = await Marker(alice).start()
    await marker.frames(bob)
    return alice, bob, marker


async def test_a_friend_sees_shared_changes_and_loses_sight_with_an_id_only(pair):
    alice, bob, marker = pair
    timer = await alice.ok("timer.start", {"allocated_ms": 60_000, "title": "secret"})
    assert await marker.frames(bob) == []
    await share(alice, "timer", timer["id"], "friends")
    await alice.ok("timer.pause", {"id": timer["id"]})
    assert await marker.frames(bob) == [
        ("timer.updated", timer["id"]),
        ("timer.paused", timer["id"]),
    ]
    shown = [e for e in bob.events if e["data"].get("id") == timer["id"]]
    assert all(e["data"]["visibility"] == {"level": "friends"} for e in shown)
    await share(alice, "timer", timer["id"], "private")
    await alice.ok("timer.resume", {"id": timer["id"]})
    assert await marker.frames(bob) == [("timer.removed", timer["id"])]
    removed = next(e for e in bob.events if e["name"] == "timer.removed")
    assert removed["data"] == {"id": timer["id"]}
    assert "audience" not in removed
    assert removed["topic"] == "user:alice"


async def test_the_owner_gets_every_frame_without_the_audience(pair):
    alice, bob, marker = pair
    todo_group = await alice.ok("tag_group.create", {"name": "g"})
    todo = await alice.ok("todo.create", {"title": "t", "tag_group_id": todo_group["id"]})
    await share(alice, "todo", todo["id"], "selected", allowed_user_ids=["bob"])
    await alice.ok("todo.delete", {"id": todo["id"]})
    assert await marker.frames(bob) == [("todo.updated", todo["id"]), ("todo.deleted", todo["id"])]
    events = await alice.wait_events(1)
    assert all("audience" not in e for e in events)
    updated = [e for e in events if e["name"] == "todo.updated"][-1]
    assert updated["data"]["visibility"] == {"level": "selected", "allowed_user_ids": ["bob"]}
    seen = [e for e in bob.events if e["name"] == "todo.updated"][-1]
    assert seen["data"]["visibility"] == {"level": "selected"}


async def test_selected_reaches_only_the_listed_friend(device, pair):
    alice, bob, marker = pair
    carol = await device("carol")
    await befriend(alice, carol)
    await carol.ok("subscribe", {"topic": "user:alice"})
    await marker.frames(carol)
    timer = await alice.ok("timer.start", {"allocated_ms": 60_000})
    await share(alice, "timer", timer["id"], "selected", allowed_user_ids=["bob"])
    assert await marker.frames(bob) == [("timer.updated", timer["id"])]
    assert await marker.frames(carol) == []
    await share(alice, "timer", timer["id"], "selected", allowed_user_ids=["carol"])
    assert await marker.frames(bob) == [("timer.removed", timer["id"])]
    assert await marker.frames(carol) == [("timer.updated", timer["id"])]


async def test_allowed_emails_match_verified_addresses_in_any_case(client, token, device):
    alice = await device("alice")
    bob = await Device.connect(client, token("bob", email="Bob@Example.COM"))
    eve = await Device.connect(client, token("eve", email="eve@example.com", email_verified=False))
    try:
        for friend in (bob, eve):
            await befriend(alice, friend)
            await friend.ok("subscribe", {"topic": "user:alice"})
        marker = await Marker(alice).start()
        for friend in (bob, eve):
            await marker.frames(friend)
        timer = await alice.ok("timer.start", {"allocated_ms": 60_000})
        await share(
            alice, "timer", timer["id"], "allowed_emails", allowed_emails=["bob@example.com"]
        )
        assert await marker.frames(bob) == [("timer.updated", timer["id"])]
        assert await marker.frames(eve) == []
        await share(alice, "timer", timer["id"], "allowed_emails", allowed_domains=["EXAMPLE.com"])
        assert await marker.frames(bob) == [("timer.updated", timer["id"])]
        assert await marker.frames(eve) == []
    finally:
        await bob.close()
        await eve.close()


async def test_unfriending_removes_what_only_friends_saw_and_ends_the_subscription(pair):
    alice, bob, marker = pair
    kept = await alice.ok("timer.start", {"allocated_ms": 60_000})
    lost = await alice.ok("timer.start", {"allocated_ms": 60_000})
    await share(alice, "timer", kept["id"], "public")
    await share(alice, "timer", lost["id"], "friends")
    await marker.frames(bob)
    friendship = (await alice.ok("friend.list"))["items"][0]
    await alice.ok("friend.remove", {"id": friendship["id"]})
    ended = await _until_ended(bob)
    names = [(e["name"], e["data"].get("id")) for e in ended]
    assert ("timer.removed", lost["id"]) in names
    assert ("timer.removed", kept["id"]) not in names
    assert ended[-1]["name"] == "subscription.ended"
    assert ended[-1]["data"] == {"topic": "user:alice", "reason": "friend_removed"}
    await alice.ok("timer.pause", {"id": kept["id"]})
    await bob.ok("ping")
    error = await bob.error("subscribe", {"topic": "user:alice"})
    assert error["code"] == "not_found"
    assert not [e for e in bob.events if e["name"] == "timer.paused"]


async def test_blocking_removes_everything_and_says_why(pair):
    alice, bob, marker = pair
    public = await alice.ok("timer.start", {"allocated_ms": 60_000})
    await share(alice, "timer", public["id"], "public")
    await marker.frames(bob)
    await alice.ok("friend.block", {"user_id": "bob"})
    ended = await _until_ended(bob)
    assert ("timer.removed", public["id"]) in [(e["name"], e["data"].get("id")) for e in ended]
    assert ended[-1]["data"]["reason"] == "blocked"


async def test_strangers_and_blocked_users_cannot_subscribe(device):
    alice = await device("alice")
    mallory = await device("mallory")
    assert (await mallory.error("subscribe", {"topic": "user:alice"}))["code"] == "not_found"
    await alice.ok("friend.block", {"user_id": "mallory"})
    assert (await mallory.error("subscribe", {"topic": "user:alice"}))["code"] == "not_found"
    # Blocking someone closes their topic to the blocker too.
    assert (await alice.error("subscribe", {"topic": "user:mallory"}))["code"] == "not_found"


async def test_resume_of_a_blocked_or_unfriended_topic_is_denied(client, token, pair):
    alice, bob, marker = pair
    await marker.frames(bob)
    cursor = bob.events[-1]["seq"]
    await bob.close()
    await alice.ok("friend.block", {"user_id": "bob"})
    back = await Device.connect(client, token("bob"), resume={"user:alice": cursor})
    try:
        assert back.ready["denied"] == ["user:alice"]
        assert [e for e in back.replayed if e["topic"] == "user:alice"] == []
    finally:
        await back.close()


async def test_resume_after_a_visibility_change_while_offline(client, token, pair):
    alice, bob, marker = pair
    shown = await alice.ok("timer.start", {"allocated_ms": 60_000})
    hidden = await alice.ok("timer.start", {"allocated_ms": 60_000})
    await share(alice, "timer", shown["id"], "friends")
    await marker.frames(bob)
    cursor = bob.events[-1]["seq"]
    await bob.close()
    await share(alice, "timer", shown["id"], "private")
    await alice.ok("timer.pause", {"id": hidden["id"]})
    await share(alice, "timer", hidden["id"], "friends")
    back = await Device.connect(client, token("bob"), resume={"user:alice": cursor})
    try:
        got = [(e["name"], e["data"]["id"]) for e in back.replayed if e["topic"] == "user:alice"]
        assert got == [("timer.removed", shown["id"]), ("timer.updated", hidden["id"])]
        assert back.ready["reset"] == []
    finally:
        await back.close()


async def test_a_cursor_from_before_the_friendship_is_reset(device, client, token):
    alice = await device("alice")
    bob = await device("bob")
    await alice.ok("timer.start", {"allocated_ms": 60_000})
    await befriend(alice, bob)
    back = await Device.connect(client, token("bob"), resume={"user:alice": 1})
    try:
        assert back.replayed == [] or all(e["topic"] != "user:alice" for e in back.replayed)
        assert back.ready["reset"] == ["user:alice"]
    finally:
        await back.close()


async def test_ticks_carry_visible_running_timers_of_friends(pair):
    alice, bob, marker = pair
    hidden = await alice.ok("timer.start", {"allocated_ms": 60_000})
    shown = await alice.ok("timer.start", {"allocated_ms": 60_000})
    await share(alice, "timer", shown["id"], "friends")
    await marker.frames(bob)
    await bob.ok("ticks.subscribe", {"interval_ms": 250})
    tick = await _next_tick(bob)
    ids = {t["id"] for t in tick["timers"]}
    assert shown["id"] in ids
    assert hidden["id"] not in ids
    await share(alice, "timer", shown["id"], "private")
    await marker.frames(bob)
    tick = await _next_tick(bob)
    assert shown["id"] not in {t["id"] for t in tick["timers"]}


async def test_one_serialisation_per_audience(device, pair):
    alice, bob, marker = pair
    carol = await device("carol")
    await befriend(alice, carol)
    await carol.ok("subscribe", {"topic": "user:alice"})
    await marker.frames(carol)
    timer = await alice.ok("timer.start", {"allocated_ms": 60_000})
    await share(alice, "timer", timer["id"], "friends")
    await marker.frames(bob)
    await marker.frames(carol)
    a = [e for e in bob.events if e["name"] == "timer.updated" and e["data"]["id"] == timer["id"]]
    b = [e for e in carol.events if e["name"] == "timer.updated" and e["data"]["id"] == timer["id"]]
    assert a == b


@requires_postgres
@requires_redis
async def test_friend_on_another_instance_gets_the_same_frames(start_server, token):
    first = await start_server()
    second = await start_server()
    alice = await Device.connect(first, token("alice"))
    bob = await Device.connect(second, token("bob"))
    try:
        await befriend(alice, bob)
        await bob.ok("subscribe", {"topic": "user:alice"})
        marker = await Marker(alice).start()
        await marker.frames(bob)
        timer = await alice.ok("timer.start", {"allocated_ms": 60_000})
        await share(alice, "timer", timer["id"], "friends")
        await share(alice, "timer", timer["id"], "private")
        assert await marker.frames(bob) == [
            ("timer.updated", timer["id"]),
            ("timer.removed", timer["id"]),
        ]
        hub = second.app[STATE].hub
        assert "user:alice" in hub.topics()
    finally:
        await alice.close()
        await bob.close()


async def _until_ended(dev: Device) -> list[dict[str, Any]]:
    start = len(dev.events)
    while not any(e["name"] == "subscription.ended" for e in dev.events[start:]):
        await dev.pump()
    return dev.events[start:]


async def _next_tick(dev: Device) -> dict[str, Any]:
    count = len(dev.ticks)
    while len(dev.ticks) <= count:
        await dev.pump()
    return dev.ticks[-1]
