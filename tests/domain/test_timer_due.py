"""timer.due: once per timer, with or without a connected client, across instances."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from server.state import STATE
from server.storage.tables import events
from tests.conftest import requires_postgres, requires_redis
from tests.wsclient import Device


async def due_events(client) -> list[str]:
    async with client.server.app[STATE].services.db.read() as conn:
        rows = await conn.execute(select(events.c.frame).where(events.c.name == "timer.due"))
        return [row.frame for row in rows]


async def wait_for(predicate, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not await predicate():  # noqa: ASYNC110 - the predicate reads the database
            await asyncio.sleep(0.02)


async def test_due_is_emitted_once_when_allocation_is_reached(device, client):
    dev = await device()
    timer = await dev.ok("timer.start", {"allocated_ms": 150})
    events_ = await dev.wait_events(2)
    due = events_[1]
    assert due["name"] == "timer.due"
    assert due["data"]["id"] == timer["id"]
    assert due["data"]["status"] == "RUNNING"
    assert due["data"]["elapsed_ms"] >= 150
    assert due["actor"] is None
    await asyncio.sleep(0.5)
    assert len(await due_events(client)) == 1
    assert (await dev.ok("timer.get", {"id": timer["id"]}))["status"] == "RUNNING"


async def test_due_waits_for_paused_time(device, client):
    dev = await device()
    timer = await dev.ok("timer.start", {"allocated_ms": 300})
    await dev.ok("timer.pause", {"id": timer["id"]})
    await asyncio.sleep(0.5)
    assert await due_events(client) == []
    await dev.ok("timer.resume", {"id": timer["id"]})
    await wait_for(lambda: _has_due(client))


async def _has_due(client) -> bool:
    return len(await due_events(client)) == 1


async def test_stopped_timer_never_becomes_due(device, client):
    dev = await device()
    timer = await dev.ok("timer.start", {"allocated_ms": 200})
    await dev.ok("timer.stop", {"id": timer["id"]})
    await asyncio.sleep(0.5)
    assert await due_events(client) == []


async def test_due_reaches_the_log_with_nobody_connected_and_replays(client, token):
    dev = await Device.connect(client, token())
    await dev.ok("timer.start", {"allocated_ms": 200})
    cursor = (await dev.wait_events(1))[0]["seq"]
    await dev.close()
    await wait_for(lambda: _has_due(client))
    back = await Device.connect(client, token(), resume={"user:alice": cursor})
    assert [e["name"] for e in back.replayed] == ["timer.due"]
    assert back.ready["replayed"] == 1
    await back.close()


async def test_due_survives_a_restart(start_server, token):
    first = await start_server()
    dev = await Device.connect(first, token())
    await dev.ok("timer.start", {"allocated_ms": 400})
    await dev.close()
    await first.close()
    await asyncio.sleep(0.5)
    second = await start_server()
    await wait_for(lambda: _has_due(second))


@requires_postgres
@requires_redis
async def test_two_instances_emit_due_exactly_once(start_server, token):
    a = await start_server(due_poll_s=0.05)
    b = await start_server(due_poll_s=0.05)
    dev = await Device.connect(a, token())
    for _ in range(5):
        await dev.ok("timer.start", {"allocated_ms": 100})
    await asyncio.sleep(0.8)
    frames = await due_events(a)
    assert len(frames) == 5
    assert len(set(frames)) == 5
    await dev.close()
    assert b.server.app[STATE].scheduler is not None
