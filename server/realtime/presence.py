"""Who is looking at a topic right now: held by each instance, merged over the fan-out.

Presence is not an event: nothing is logged, nothing is replayed, it has no seq.
Each instance knows its own viewers (connections subscribed to a topic that asked
to be seen) and publishes the whole list on the topic's channel whenever it changes
and every ``BEAT_S`` while it has any; it keeps the lists other instances published
and forgets one that was not renewed within ``TTL_S`` (an instance that died). A new
viewer's instance asks the others to speak at once (``ask``), so a page that opens
sees everyone within a round trip, not a beat.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

BEAT_S = 10.0
TTL_S = 3 * BEAT_S
PREFIX = b'{"type":"presence"'

Viewer = dict[str, Any]
Publish = Callable[[str, bytes], Awaitable[None]]
# Called with a topic whose merged viewers changed, and the frame to send its subscribers.
Notify = Callable[[str, bytes], None]


def is_presence(message: bytes) -> bool:
    """Tell a presence message from an event on a topic's channel."""
    return message.startswith(PREFIX)


class Presence:
    """One instance's view of who looks at which topic."""

    def __init__(self, instance: str, publish: Publish, notify: Notify) -> None:
        self.instance = instance
        self._publish = publish
        self._notify = notify
        self._local: dict[str, dict[str, Viewer]] = {}
        self._remote: dict[str, dict[str, tuple[float, list[Viewer]]]] = {}

    def viewers(self, topic: str) -> list[Viewer]:
        """Return everyone looking at ``topic``, on every instance, by connection id."""
        found = list(self._local.get(topic, {}).values())
        for _heard, listed in self._remote.get(topic, {}).values():
            found += listed
        return sorted(found, key=lambda viewer: str(viewer["connection"]))

    def frame(self, topic: str) -> bytes:
        """Build the ``presence`` frame of ``topic`` as its subscribers get it."""
        return orjson.dumps({"type": "presence", "topic": topic, "viewers": self.viewers(topic)})

    async def show(self, topic: str, viewer: Viewer) -> None:
        """Add or update a local viewer (keyed by its ``connection``) and tell everyone."""
        first = topic not in self._local
        self._local.setdefault(topic, {})[viewer["connection"]] = viewer
        self._changed(topic)
        await self._announce(topic, ask=first)

    async def hide(self, topic: str, connection: str) -> None:
        """Remove a local viewer and tell everyone."""
        local = self._local.get(topic)
        if local is None or local.pop(connection, None) is None:
            return
        if not local:
            del self._local[topic]
        self._changed(topic)
        await self._announce(topic, ask=False)

    async def on_message(self, topic: str, message: bytes) -> None:
        """Take another instance's list (answering when it asks); ignore our own."""
        body = orjson.loads(message)
        sender = body.get("instance")
        if sender == self.instance or not isinstance(body.get("viewers"), list):
            return
        listed = [v for v in body["viewers"] if isinstance(v, dict) and "connection" in v]
        before = self._remote.get(topic, {}).get(sender, (0.0, []))[1]
        self._remote.setdefault(topic, {})[sender] = (time.monotonic(), listed)
        if listed != before:
            self._changed(topic)
        if body.get("ask") and topic in self._local:
            await self._announce(topic, ask=False)

    async def beat(self) -> None:
        """Renew this instance's lists and forget the ones other instances stopped renewing."""
        now = time.monotonic()
        for topic, instances in list(self._remote.items()):
            stale = [name for name, (heard, _) in instances.items() if now - heard > TTL_S]
            for name in stale:
                del instances[name]
            if not instances:
                del self._remote[topic]
            if stale:
                self._changed(topic)
        for topic in list(self._local):
            await self._announce(topic, ask=False)

    def _changed(self, topic: str) -> None:
        self._notify(topic, self.frame(topic))

    async def _announce(self, topic: str, *, ask: bool) -> None:
        listed = list(self._local.get(topic, {}).values())
        body = {"type": "presence", "instance": self.instance, "viewers": listed, "ask": ask}
        await self._publish(topic, orjson.dumps(body))
