"""The access matrix for live delivery: level by relation by resource type.

Alice's friends are subscribed to her topic: Bob (verified ``Bob@Example.com``),
Carol (verified, another domain) and Dave (``dave@example.com``, not verified).
Strangers and blocked users cannot subscribe at all
(test_friend_fanout.test_strangers_and_blocked_users_cannot_subscribe).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.meetings.helpers import POLL
from tests.visibility.fanout_helpers import Marker, befriend, share
from tests.wsclient import Device

CASES: list[tuple[str, dict[str, Any], set[str]]] = [
    ("private", {}, set()),
    ("friends", {}, {"bob", "carol", "dave"}),
    ("selected", {"allowed_user_ids": ["bob"]}, {"bob"}),
    ("selected", {"allowed_user_ids": ["dave", "carol"]}, {"carol", "dave"}),
    ("allowed_emails", {"allowed_emails": ["bob@EXAMPLE.com"]}, {"bob"}),
    ("allowed_emails", {"allowed_emails": ["dave@example.com"]}, set()),
    ("allowed_emails", {"allowed_domains": ["example.com"]}, {"bob"}),
    ("allowed_emails", {"allowed_domains": ["other.org"]}, {"carol"}),
    ("public", {}, {"bob", "carol", "dave"}),
]


async def create(dev: Device, kind: str) -> dict[str, Any]:
    if kind == "timer":
        return dict(await dev.ok("timer.start", {"allocated_ms": 60_000}))
    if kind == "todo":
        group = await dev.ok("tag_group.create", {"name": "g"})
        return dict(await dev.ok("todo.create", {"title": "t", "tag_group_id": group["id"]}))
    if kind == "meeting":
        return dict(await dev.ok("meeting.create", POLL))
    data = {
        "title": "s",
        "start_time": "2026-03-02T09:00:00Z",
        "end_time": "2026-03-02T10:00:00Z",
        "timezone": "UTC",
        "recurrence_rule": "FREQ=DAILY",
    }
    return dict(await dev.ok("schedule.create", data))


@pytest.mark.parametrize("kind", ["timer", "todo", "schedule", "meeting"])
async def test_live_delivery_follows_the_predicate(client, token, device, kind):
    alice = await device("alice")
    viewers = {
        "bob": await Device.connect(client, token("bob", email="Bob@Example.com")),
        "carol": await Device.connect(client, token("carol", email="carol@other.org")),
        "dave": await Device.connect(
            client, token("dave", email="dave@example.com", email_verified=False)
        ),
    }
    try:
        for viewer in viewers.values():
            await befriend(alice, viewer)
            await viewer.ok("subscribe", {"topic": "user:alice"})
        marker = await Marker(alice).start()
        for viewer in viewers.values():
            await marker.frames(viewer)
        for level, lists, seeing in CASES:
            resource = await create(alice, kind)
            if level != "private":
                await share(alice, kind, resource["id"], level, **lists)
            await alice.ok(f"{kind}.update", {"id": resource["id"], "title": "changed"})
            for name, viewer in viewers.items():
                got = await marker.frames(viewer)
                want = [(f"{kind}.updated", resource["id"])] * 2 if name in seeing else []
                assert got == want, (kind, level, lists, name)
                if kind == "meeting" and name in seeing:
                    # A poll's link is its owner's to share: friends see it null.
                    seen = [e for e in viewer.events if e["data"].get("id") == resource["id"]]
                    assert {e["data"]["share_token"] for e in seen} == {None}
    finally:
        for viewer in viewers.values():
            await viewer.close()
