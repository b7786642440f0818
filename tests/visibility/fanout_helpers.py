"""Helpers for fan-out tests: befriending, and reading what a watcher got up to a marker."""

from __future__ import annotations

import itertools
from typing import Any

from tests.wsclient import Device

_marks = itertools.count(1)


async def befriend(a: Device, b: Device) -> dict[str, Any]:
    """Make ``a`` and ``b`` friends through the commands; return b's accepted friendship."""
    code = (await b.ok("user.me"))["friend_code"]
    asked = await a.ok("friend.request", {"friend_code": code})
    return dict(await b.ok("friend.accept", {"id": asked["friendship"]["id"]}))


async def share(owner: Device, kind: str, ident: str, level: str, **lists: Any) -> Any:
    """Set a resource's visibility."""
    data = {"resource_type": kind, "resource_id": ident, "level": level, **lists}
    return await owner.ok("visibility.set", data)


class Marker:
    """A public timer of ``owner`` whose renames mark points in the owner's topic.

    Events of one topic arrive in seq order, so once a watcher sees a mark it has
    seen everything the owner's topic would ever deliver to it before that mark.
    """

    def __init__(self, owner: Device) -> None:
        self.owner = owner
        self.timer_id = ""
        self.seen: dict[int, int] = {}

    async def start(self) -> Marker:
        timer = await self.owner.ok("timer.start", {"allocated_ms": 3_600_000, "title": "mark"})
        self.timer_id = timer["id"]
        await share(self.owner, "timer", self.timer_id, "public")
        return self

    async def frames(self, watcher: Device) -> list[tuple[str, str]]:
        """Mark, then return (name, data id) of what ``watcher`` got since its last call."""
        title = f"mark {next(_marks)}"
        await self.owner.ok("timer.update", {"id": self.timer_id, "title": title})
        got = []
        start = self.seen.get(id(watcher), len(watcher.events))
        while True:
            while len(watcher.events) <= start:
                await watcher.pump()
            event = watcher.events[start]
            start += 1
            data = event["data"]
            if data.get("id") == self.timer_id:
                if data.get("title") == title:
                    break
                continue
            got.append((event["name"], data.get("id", "")))
        self.seen[id(watcher)] = start
        return got
