"""Fan-out through the app: every device, in order, once; resume loses nothing."""

from __future__ import annotations

import asyncio

from server.domain.maintenance import do_prune
from server.protocol.connection import Connection
from server.state import STATE
from tests.conftest import requires_postgres, requires_redis
from tests.serverstate import connection_to, until
from tests.wsclient import Device


async def make_events(dev: Device, count: int) -> list[dict]:
    """Cause ``count`` more events; return every event the device has seen."""
    target = len(dev.events) + count
    timer = await dev.ok("timer.start", {"allocated_ms": 3_600_000})
    for i in range(count - 1):
        await dev.ok("timer.pause" if i % 2 == 0 else "timer.resume", {"id": timer["id"]})
    return await dev.wait_events(target)


async def test_two_devices_see_every_change_in_order(device):
    phone = await device()
    laptop = await device()
    sent = await make_events(phone, 9)
    seen = await laptop.wait_events(9)
    assert [e["seq"] for e in seen] == list(range(1, 10))
    assert seen == sent


async def test_other_users_see_nothing(device):
    alice = await device("alice")
    bob = await device("bob")
    await make_events(alice, 3)
    await bob.ok("ping")
    await asyncio.sleep(0.1)
    await bob.ok("ping")
    assert bob.events == []


async def test_resume_replays_exactly_the_missed_events_in_order_once(client, token):
    phone = await Device.connect(client, token())
    laptop = await Device.connect(client, token())
    before = await make_events(phone, 3)
    await laptop.wait_events(3)
    cursor = laptop.events[-1]["seq"]
    await laptop.close()
    missed = (await make_events(phone, 5))[3:]
    assert [e["seq"] for e in missed] == [4, 5, 6, 7, 8]
    back = await Device.connect(client, token(), resume={"user:alice": cursor})
    assert back.replayed == missed
    assert back.ready["replayed"] == 5
    assert back.ready["topics"] == {"user:alice": {"seq": 8}}
    assert back.ready["reset"] == []
    live = await phone.ok("timer.start", {"allocated_ms": 1000})
    events_ = await back.wait_events(1)
    assert [e["seq"] for e in events_] == [9]
    assert events_[0]["data"]["id"] == live["id"]
    assert before[0]["seq"] == 1
    for dev in (phone, back):
        await dev.close()


async def test_resume_from_zero_replays_everything(client, token):
    dev = await Device.connect(client, token())
    await make_events(dev, 4)
    await dev.close()
    back = await Device.connect(client, token(), resume={"user:alice": 0})
    assert [e["seq"] for e in back.replayed] == [1, 2, 3, 4]
    await back.close()


async def test_resume_at_head_replays_nothing(client, token):
    dev = await Device.connect(client, token())
    await make_events(dev, 2)
    await dev.close()
    back = await Device.connect(client, token(), resume={"user:alice": 2})
    assert back.replayed == []
    assert back.ready["reset"] == []
    await back.close()


async def test_cursor_beyond_retention_is_reset(start_server, token):
    server = await start_server(event_retention=1)
    dev = await Device.connect(server, token())
    await make_events(dev, 3)
    await dev.close()
    await asyncio.sleep(1.05)
    assert await do_prune(server.server.app[STATE].services) == (3, 0)
    back = await Device.connect(server, token(), resume={"user:alice": 1})
    assert back.replayed == []
    assert back.ready["reset"] == ["user:alice"]
    assert back.ready["topics"] == {"user:alice": {"seq": 3}}
    await back.close()


async def test_cursor_too_far_behind_is_reset(start_server, token):
    server = await start_server(resume_max_events=3)
    dev = await Device.connect(server, token())
    await make_events(dev, 5)
    await dev.close()
    far = await Device.connect(server, token(), resume={"user:alice": 1})
    assert far.ready["reset"] == ["user:alice"]
    await far.close()
    near = await Device.connect(server, token(), resume={"user:alice": 2})
    assert [e["seq"] for e in near.replayed] == [3, 4, 5]
    await near.close()


async def test_cursor_of_another_epoch_is_reset(client, token):
    dev = await Device.connect(client, token())
    await make_events(dev, 2)
    await dev.close()
    back = await Device.connect(client, token(), resume={"user:alice": 1}, epoch="ffffffffffffffff")
    assert back.replayed == []
    assert back.ready["reset"] == ["user:alice"]
    await back.close()


async def test_cursor_beyond_the_head_is_reset(client, token):
    dev = await Device.connect(client, token())
    await make_events(dev, 2)
    await dev.close()
    back = await Device.connect(client, token(), resume={"user:alice": 50})
    assert back.ready["reset"] == ["user:alice"]
    assert back.ready["topics"] == {"user:alice": {"seq": 2}}
    await back.close()


async def test_resumed_topics_the_user_may_not_see_are_denied(client, token):
    dev = await Device.connect(client, token(), resume={"user:bob": 0, "weird": 1})
    assert sorted(dev.ready["denied"]) == ["user:bob", "weird"]
    assert list(dev.ready["topics"]) == ["user:alice"]
    await dev.close()


async def test_subscribe_rules(device):
    dev = await device()
    assert (await dev.error("subscribe", {"topic": "user:bob"}))["code"] == "not_found"
    assert (await dev.error("subscribe", {"topic": "planet:x"}))["code"] == "validation_error"
    own = await dev.ok("subscribe", {"topic": "user:alice", "since": 0})
    assert own == {"topic": "user:alice", "seq": 0, "replayed": 0, "reset": False}
    assert (await dev.error("unsubscribe", {"topic": "user:alice"}))["code"] == "validation_error"
    assert (await dev.error("unsubscribe", {"topic": "user:bob"}))["code"] == "not_found"


async def test_resubscribing_never_delivers_twice(device):
    dev = await device()
    await make_events(dev, 3)
    again = await dev.ok("subscribe", {"topic": "user:alice", "since": 0})
    assert again["replayed"] == 0
    await dev.ok("ping")
    assert [e["seq"] for e in dev.events] == [1, 2, 3]


async def close_code_once_closing(dev: Device, conn: Connection) -> int | None:
    """Read nothing until the server starts closing ``conn``; then read to its close code."""
    await until(lambda: conn.closing, timeout=60)
    return await dev.wait_close(timeout=20)


async def test_slow_consumer_is_closed_4409_while_others_keep_receiving(start_server, token):
    server = await start_server(ws_queue_max_frames=16, ws_queue_max_bytes=65536)
    sender = await Device.connect(server, token())
    healthy = await Device.connect(server, token())
    stalled = await Device.connect(server, token())
    stalled_conn = connection_to(server, stalled.ws.get_extra_info("sockname")[1])
    # The healthy device reads all along, as a real client does; the stalled one reads
    # nothing until the server closes it, and then in time for the close frame (2 s).
    # 800 frames of 10 KB: more than the kernel's socket buffers hold on loopback.
    receiving = asyncio.create_task(healthy.wait_events(801, timeout=60))
    closed = asyncio.create_task(close_code_once_closing(stalled, stalled_conn))
    timer = await sender.ok("timer.start", {"allocated_ms": 3_600_000, "description": "x" * 10_000})
    for i in range(800):
        await sender.ok("timer.pause" if i % 2 == 0 else "timer.resume", {"id": timer["id"]})
    await receiving
    assert [e["seq"] for e in healthy.events] == list(range(1, 802))
    assert await closed == 4409
    for dev in (sender, healthy):
        await dev.close()


@requires_postgres
@requires_redis
async def test_two_instances_deliver_each_others_events(start_server, token, over_redis):
    a = await start_server(**over_redis)
    b = await start_server(**over_redis)
    on_a = await Device.connect(a, token())
    on_b = await Device.connect(b, token())
    sent = await make_events(on_a, 5)
    assert await on_b.wait_events(5) == sent
    timer = await on_b.ok("timer.start", {"allocated_ms": 1000})
    events_ = await on_a.wait_events(6)
    assert events_[-1]["data"]["id"] == timer["id"]
    assert [e["seq"] for e in events_] == list(range(1, 7))
    for dev in (on_a, on_b):
        await dev.close()


@requires_postgres
@requires_redis
async def test_resume_on_another_instance(start_server, token):
    a = await start_server()
    b = await start_server()
    dev = await Device.connect(a, token())
    await make_events(dev, 4)
    await dev.close()
    back = await Device.connect(b, token(), resume={"user:alice": 1})
    assert [e["seq"] for e in back.replayed] == [2, 3, 4]
    await back.close()
