"""The hub: order, no duplicates, gaps filled from the log, joins without a gap."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from server.realtime.hub import Delivery, Hub
from server.realtime.memory import InProcessBackend
from server.storage.db import Database, create_engine
from server.storage.events import NewEvent, append_event


class Collector:
    """A subscriber that records what it is given."""

    def __init__(self) -> None:
        self.seqs: list[int] = []

    def deliver(self, delivery: Delivery) -> None:
        assert delivery.event["seq"] == delivery.seq
        self.seqs.append(delivery.seq)

    async def replay(self, topic: str, frames: Sequence[tuple[int, str]], context: Any) -> int:
        self.seqs.extend(seq for seq, _ in frames)
        return len(frames)


@pytest.fixture
async def hub(database_url):
    db = Database(create_engine(database_url))
    hub = Hub(InProcessBackend(), db, resume_max_events=100)
    await hub.start()
    yield hub
    await hub.stop()
    await db.close()


async def write(hub: Hub, topic: str, count: int) -> list[bytes]:
    frames = []
    for _ in range(count):
        async with hub.db.transaction() as tx:
            _, frame = await append_event(
                tx.conn, topic, NewEvent("timer.updated", {}, None, "u", 1)
            )
        frames.append(frame)
    return frames


async def settle(hub: Hub) -> None:
    for _ in range(50):
        await asyncio.sleep(0.01)
        if not any(t for t in hub._tasks if not t.done()):
            return


async def test_live_events_are_delivered_in_order(hub):
    sub = Collector()
    await hub.join(sub, "user:u", None)
    for frame in await write(hub, "user:u", 3):
        await hub.publish("user:u", frame)
    assert sub.seqs == [1, 2, 3]


async def test_a_lost_message_is_read_from_the_log_before_later_ones(hub):
    sub = Collector()
    await hub.join(sub, "user:u", None)
    first, _lost, third = await write(hub, "user:u", 3)
    await hub.publish("user:u", first)
    await hub.publish("user:u", third)
    await settle(hub)
    assert sub.seqs == [1, 2, 3]


async def test_duplicates_and_stale_messages_are_dropped(hub):
    sub = Collector()
    await hub.join(sub, "user:u", None)
    frames = await write(hub, "user:u", 2)
    for frame in (frames[0], frames[0], frames[1], frames[0]):
        await hub.publish("user:u", frame)
    assert sub.seqs == [1, 2]


async def test_messages_during_a_join_wait_for_its_replay(hub):
    early = await write(hub, "user:u", 2)
    sub = Collector()
    joining = asyncio.create_task(hub.join(sub, "user:u", 0))
    await asyncio.sleep(0)
    late = await write(hub, "user:u", 1)
    for frame in (*early, *late):
        await hub.publish("user:u", frame)
    result = await joining
    await settle(hub)
    assert sub.seqs == [1, 2, 3]
    assert result.replayed in (2, 3)


async def test_catch_up_delivers_a_lost_tail(hub):
    sub = Collector()
    await hub.join(sub, "user:u", None)
    await write(hub, "user:u", 2)
    await hub.catch_up()
    await settle(hub)
    assert sub.seqs == [1, 2]


async def test_the_last_subscriber_out_unsubscribes_upstream(hub):
    a, b = Collector(), Collector()
    await hub.join(a, "user:u", None)
    await hub.join(b, "user:u", None)
    await hub.leave(a, "user:u")
    assert hub.topics() == ["user:u"]
    await hub.leave(b, "user:u")
    assert hub.topics() == []
    assert "user:u" not in hub.backend._topics
