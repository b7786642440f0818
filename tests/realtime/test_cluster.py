"""The Redis Cluster backend when the cluster changes under it: slots move, masters die or hang."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.crc import key_slot

from server.realtime.redis_cluster import RedisClusterBackend
from server.realtime.topics import redis_channel
from server.state import STATE
from tests.conftest import requires_postgres
from tests.realtime.conftest import StartRedis
from tests.realtime.test_backends import (
    LOGGER,
    TOPIC,
    Inbox,
    collected_resource_warnings,
    completes_without_suspending,
    pubsub_links,
    wait_for,
)
from tests.rediscluster import LocalCluster
from tests.wsclient import Device

pytestmark = pytest.mark.redis


async def shard_subscribers(port: int, channel: str) -> int:
    """Count the shard subscribers of ``channel`` on the master at ``port``."""
    async with Redis(port=port) as admin:
        _, count = await admin.execute_command("PUBSUB", "SHARDNUMSUB", channel)
    return int(count)


async def test_topics_on_every_master_arrive_over_one_link_per_master(
    own_cluster: LocalCluster, start_redis: StartRedis, cluster_seeds: list[str], prefix: str
) -> None:
    backend, inbox = await start_redis(cluster_seeds)
    topics = [f"user:u{i}" for i in range(30)]
    owners = {await own_cluster.owner(redis_channel(prefix, topic)) for topic in topics}
    assert owners == set(own_cluster.ports)
    for topic in topics:
        await backend.subscribe(topic)
    for topic in topics:
        await backend.publish(topic, topic.encode())

    await wait_for(lambda: len(inbox.messages) == len(topics), "every topic's message")
    assert sorted(inbox.messages) == sorted((topic, topic.encode()) for topic in topics)
    for port in own_cluster.ports:
        async with Redis(port=port) as admin:
            assert len(await pubsub_links(admin, backend.client_name)) == 1


async def test_moving_a_live_topics_slot_resubscribes_on_its_new_master(
    own_cluster: LocalCluster, start_redis: StartRedis, cluster_seeds: list[str], prefix: str
) -> None:
    backend, inbox = await start_redis(cluster_seeds)
    publisher, _ = await start_redis(cluster_seeds)
    channel = redis_channel(prefix, TOPIC)
    await backend.subscribe(TOPIC)
    await publisher.publish(TOPIC, b"before")
    await wait_for(lambda: inbox.of(TOPIC) == [b"before"], "the first message")
    source = await own_cluster.owner(channel)
    target = next(port for port in own_cluster.ports if port != source)

    await own_cluster.move_slot(key_slot(channel.encode()), target)

    # The old master ends the subscription: an outage, so the hub catches up.
    await wait_for(lambda: inbox.reconnects == 1, "the reconnect after the slot moved")
    assert backend.healthy()
    assert await shard_subscribers(target, channel) == 1
    assert await shard_subscribers(source, channel) == 0
    await publisher.publish(TOPIC, b"after")
    await wait_for(lambda: inbox.of(TOPIC) == [b"before", b"after"], "a message via the new master")


async def test_a_master_restart_is_an_outage_the_link_recovers_from(
    own_cluster: LocalCluster, start_redis: StartRedis, cluster_seeds: list[str], prefix: str
) -> None:
    backend, inbox = await start_redis(cluster_seeds, retry_max_s=0.2)
    await backend.subscribe(TOPIC)
    port = await own_cluster.owner(redis_channel(prefix, TOPIC))

    own_cluster.kill_node(port)
    await wait_for(lambda: not backend.healthy(), "the backend to notice the dead master")
    assert backend.problem() == "unreachable (ConnectionError)"
    await backend.publish(TOPIC, b"queued while the master is away")
    own_cluster.start_node(port)

    await wait_for(lambda: inbox.reconnects == 1, "the reconnect", within=20)
    assert backend.problem() is None
    await wait_for(lambda: inbox.of(TOPIC) == [b"queued while the master is away"], "the message")


async def test_a_hung_master_is_noticed_and_the_link_comes_back(
    own_cluster: LocalCluster, start_redis: StartRedis, cluster_seeds: list[str], prefix: str
) -> None:
    backend, inbox = await start_redis(
        cluster_seeds, timeout_s=0.3, health_check_s=0.1, retry_max_s=0.2
    )
    await backend.subscribe(TOPIC)
    port = await own_cluster.owner(redis_channel(prefix, TOPIC))

    own_cluster.pause(port)  # well within the cluster's node timeout
    try:
        await wait_for(lambda: not backend.healthy(), "the reader to notice the hang")
        assert backend.problem() == "no reply to PING within 0.3 s"
    finally:
        own_cluster.resume(port)

    await wait_for(lambda: inbox.reconnects == 1, "the reconnect and its catch-up")
    await backend.publish(TOPIC, b"after the hang")
    await wait_for(lambda: inbox.of(TOPIC) == [b"after the hang"], "a message")


async def test_publish_never_waits_for_a_hung_master(
    own_cluster: LocalCluster, start_redis: StartRedis, cluster_seeds: list[str], prefix: str
) -> None:
    # A long timeout: nothing but the queue may let publish() return early.
    backend, _ = await start_redis(cluster_seeds, timeout_s=60)
    observer, seen = await start_redis(cluster_seeds)
    await observer.subscribe(TOPIC)
    port = await own_cluster.owner(redis_channel(prefix, TOPIC))
    messages = [f"m{i}".encode() for i in range(100)]

    own_cluster.pause(port)
    try:
        for message in messages:
            assert completes_without_suspending(backend.publish(TOPIC, message))
        await asyncio.sleep(0.2)
        assert seen.of(TOPIC) == []
    finally:
        own_cluster.resume(port)

    await wait_for(lambda: seen.of(TOPIC) == messages, "every message, in order")
    assert backend.publisher.outbox.dropped_total == 0


# --- through the app: two instances on one PostgreSQL and the cluster ----------------


async def flip(device: Device, timer_id: str, count: int) -> None:
    """Pause a running timer (``count`` flips so far) or resume a paused one."""
    await device.ok("timer.pause" if count % 2 == 0 else "timer.resume", {"id": timer_id})


async def flip_until(device: Device, timer_id: str, stop: asyncio.Event) -> int:
    """Flip the timer, awaiting each reply, until ``stop``; return how often."""
    count = 0
    while not stop.is_set():
        await flip(device, timer_id, count)
        count += 1
    return count


@requires_postgres
@pytest.mark.parametrize("change", ["reshard", "restart"])
async def test_a_cluster_change_mid_stream_loses_and_repeats_no_event(
    change: str,
    own_cluster: LocalCluster,
    cluster_seeds: list[str],
    start_server: Any,
    token: Callable[..., str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    # B must catch up by reconnecting, not by the hub's sweep.
    options = {"redis_url": None, "redis_cluster_url": cluster_seeds, "hub_sweep_s": 60}
    a = await start_server(**options)
    b = await start_server(**options)
    sender = await Device.connect(a, token())
    receivers = [await Device.connect(server, token()) for server in (a, b)]
    timer = await sender.ok("timer.start", {"allocated_ms": 3_600_000})
    prefix = a.server.app[STATE].settings.redis_prefix
    channel = redis_channel(prefix, "user:alice")
    owner = await own_cluster.owner(channel)

    stop = asyncio.Event()
    streaming = asyncio.create_task(flip_until(sender, timer["id"], stop))
    await receivers[1].wait_events(20)
    if change == "reshard":
        target = next(port for port in own_cluster.ports if port != owner)
        await own_cluster.move_slot(key_slot(channel.encode()), target)
        assert await own_cluster.owner(channel) == target
    else:
        own_cluster.kill_node(owner)
        await asyncio.sleep(0.2)
        own_cluster.start_node(owner)
    await receivers[1].wait_events(len(receivers[1].events) + 20, timeout=20)
    stop.set()
    # The timer's start, the stream, then the last toggle as a sentinel: anything
    # repeated would come before it.
    flipped = await streaming
    await flip(sender, timer["id"], flipped)
    total = 1 + flipped + 1

    for device in (sender, *receivers):
        events = await device.wait_events(total, timeout=20)
        assert [e["seq"] for e in events] == list(range(1, total + 1))
    reconnects = [r for r in caplog.records if "re-established" in r.getMessage()]
    assert len(reconnects) >= 2, "both instances caught up from the event log"
    for device in (sender, *receivers):
        await device.close()


async def test_readiness_checks_the_link_to_the_cluster(
    own_cluster: LocalCluster, cluster_seeds: list[str], start_server: Any
) -> None:
    server = await start_server(
        redis_url=None, redis_cluster_url=cluster_seeds, redis_timeout_s=0.3
    )
    response = await server.get("/v1/health/ready")
    assert (await response.json())["checks"] == {"database": "ok", "redis": "ok"}

    port = own_cluster.ports[0]
    own_cluster.pause(port)
    try:
        await wait_for(lambda: not server.server.app[STATE].hub.backend.healthy(), "the hang")
        response = await server.get("/v1/health/ready")
    finally:
        own_cluster.resume(port)
    assert response.status == 503
    assert (await response.json())["error"]["details"]["reasons"] == {
        "redis": "no reply to PING within 0.3 s"
    }


async def test_stop_leaves_no_tasks_or_open_connections(
    cluster_seeds: list[str], prefix: str
) -> None:
    before = asyncio.all_tasks()
    backend = RedisClusterBackend(cluster_seeds, prefix)
    await backend.start(Inbox().on_message, Inbox().on_reconnect)
    await backend.subscribe(TOPIC)
    await backend.publish(TOPIC, b"hello")
    assert backend.healthy()

    await backend.stop()

    assert asyncio.all_tasks() - before == set()
    del backend
    assert collected_resource_warnings() == []
