"""One contract for every fan-out backend, plus the Redis backend's outage behaviour."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import inspect
import logging
import os
import uuid
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from redis.asyncio import Redis

from server.realtime.backend import FanoutBackend
from server.realtime.memory import InProcessBackend
from server.realtime.redis import TASK_NAME, RedisBackend
from server.realtime.redis_cluster import RedisClusterBackend
from server.realtime.redis_pubsub import ClientPubSub, PubSubLink
from server.realtime.topics import redis_channel

if TYPE_CHECKING:
    from tests.realtime.conftest import StartRedis

REDIS_URL = os.environ.get("TEST_REDIS_URL")
NO_REDIS = "TEST_REDIS_URL is not set (e.g. redis://127.0.0.1:6379/0); Redis backend not tested"
LOGGER = "server.realtime.redis"

TOPIC = "user:alice"
OTHER = "user:bob"


@dataclass
class Inbox:
    """Record what a backend delivers and how often it reconnected."""

    messages: list[tuple[str, bytes]] = field(default_factory=list)
    reconnects: int = 0
    refuse: bytes | None = None  # on_message raises on this message, like a buggy hub
    after_reconnect: Callable[[], Awaitable[None]] | None = None

    def on_message(self, topic: str, message: bytes) -> None:
        """Record one delivered message."""
        if message == self.refuse:
            raise RuntimeError("the handler chokes on this message")
        self.messages.append((topic, message))

    async def on_reconnect(self) -> None:
        """Count one reconnect, then run the ``after_reconnect`` hook."""
        self.reconnects += 1
        if self.after_reconnect is not None:
            await self.after_reconnect()

    def of(self, topic: str) -> list[bytes]:
        """List the messages delivered on ``topic``, in delivery order."""
        return [message for t, message in self.messages if t == topic]

    def ends_with(self, topic: str, messages: list[bytes]) -> bool:
        """Tell whether ``topic``'s latest deliveries are exactly ``messages``."""
        return self.of(topic)[-len(messages) :] == messages

    def reconnected(self, times: int) -> bool:
        """Tell whether exactly ``times`` reconnects were reported."""
        return self.reconnects == times


async def wait_for(condition: Callable[[], Any], what: str, within: float = 5.0) -> None:
    """Poll ``condition`` (plain or async) until it holds; fail after ``within`` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        result = condition()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(0.01)


@pytest.fixture
def inbox() -> Inbox:
    """Collect what ``backend`` delivers."""
    return Inbox()


@pytest.fixture
def peer_inbox() -> Inbox:
    """Collect what ``peer`` delivers."""
    return Inbox()


@pytest.fixture(
    params=[
        "memory",
        pytest.param("redis", marks=pytest.mark.redis),
        pytest.param("cluster", marks=pytest.mark.redis),
    ]
)
def make_backend(request: pytest.FixtureRequest, prefix: str) -> Callable[[], FanoutBackend]:
    """Build backends of each kind in turn, on the namespace ``prefix``."""
    if request.param == "memory":
        return InProcessBackend
    if request.param == "redis":
        if not REDIS_URL:
            pytest.skip(NO_REDIS)
        return partial(RedisBackend, REDIS_URL, prefix)
    return partial(RedisClusterBackend, request.getfixturevalue("cluster_seeds"), prefix)


@pytest.fixture
async def backend(
    make_backend: Callable[[], FanoutBackend], inbox: Inbox
) -> AsyncIterator[FanoutBackend]:
    """Start a backend, delivering into ``inbox``."""
    started = make_backend()
    await started.start(inbox.on_message, inbox.on_reconnect)
    yield started
    await started.stop()


@pytest.fixture
async def peer(
    backend: FanoutBackend, make_backend: Callable[[], FanoutBackend], peer_inbox: Inbox
) -> AsyncIterator[FanoutBackend]:
    """Start a second instance of the same kind on the same namespace."""
    if isinstance(backend, InProcessBackend):
        pytest.skip("the in-process backend is a single instance by design")
    started = make_backend()
    await started.start(peer_inbox.on_message, peer_inbox.on_reconnect)
    yield started
    await started.stop()


# --- the contract -------------------------------------------------------------------


async def test_subscribed_topic_receives_messages_in_order_with_exact_bytes(
    backend: FanoutBackend, inbox: Inbox
) -> None:
    messages = [
        b"",
        bytes(range(256)),
        b"*3\r\n$7\r\nmessage\r\n",  # looks like RESP, must pass through untouched
        "caf\u00e9 \u2603".encode(),
        b"x" * 1_000_000,
        *(f"n{i}".encode() for i in range(50)),
    ]
    await backend.subscribe(TOPIC)
    for message in messages:
        await backend.publish(TOPIC, message)

    await wait_for(lambda: len(inbox.messages) >= len(messages), "every message")
    assert inbox.messages == [(TOPIC, message) for message in messages]


async def test_topics_subscribed_at_once_each_deliver_and_leave_at_once(
    backend: FanoutBackend, inbox: Inbox
) -> None:
    topics = [f"user:many-{i}" for i in range(40)]
    await asyncio.gather(*(backend.subscribe(t) for t in topics))
    for topic in topics:
        await backend.publish(topic, topic.encode())
    await wait_for(lambda: len(inbox.messages) >= len(topics), "a message per topic")
    assert sorted(inbox.messages) == sorted((t, t.encode()) for t in topics)
    # Leaving and coming back in one turn: the order of the requests holds.
    await asyncio.gather(*(backend.unsubscribe(t) for t in topics[:20]))
    await asyncio.gather(backend.unsubscribe(topics[20]), backend.subscribe(topics[20]))
    inbox.messages.clear()
    for topic in topics[:21]:
        await backend.publish(topic, b"again")
    await wait_for(lambda: len(inbox.messages) >= 1, "the topic subscribed again")
    await asyncio.sleep(0.2)
    assert inbox.messages == [(topics[20], b"again")]


async def test_unsubscribed_topic_receives_nothing(backend: FanoutBackend, inbox: Inbox) -> None:
    await backend.subscribe(OTHER)
    await backend.publish(TOPIC, b"nobody listens")
    # Publishes are delivered in order, so once the sentinel is in, the first would be too.
    await backend.publish(OTHER, b"sentinel")

    await wait_for(lambda: inbox.of(OTHER) == [b"sentinel"], "the sentinel")
    assert inbox.messages == [(OTHER, b"sentinel")]


async def test_unsubscribe_stops_delivery(backend: FanoutBackend, inbox: Inbox) -> None:
    await backend.subscribe(TOPIC)
    await backend.subscribe(OTHER)
    await backend.publish(TOPIC, b"before")
    await wait_for(lambda: inbox.of(TOPIC) == [b"before"], "the first message")

    await backend.unsubscribe(TOPIC)
    await backend.publish(TOPIC, b"after")
    await backend.publish(OTHER, b"sentinel")

    await wait_for(lambda: inbox.of(OTHER) == [b"sentinel"], "the sentinel")
    assert inbox.of(TOPIC) == [b"before"]


async def test_two_topics_do_not_mix(backend: FanoutBackend, inbox: Inbox) -> None:
    await backend.subscribe(TOPIC)
    await backend.subscribe(OTHER)
    for i in range(10):
        await backend.publish(TOPIC, f"a{i}".encode())
        await backend.publish(OTHER, f"b{i}".encode())

    await wait_for(lambda: len(inbox.messages) >= 20, "every message")
    assert inbox.of(TOPIC) == [f"a{i}".encode() for i in range(10)]
    assert inbox.of(OTHER) == [f"b{i}".encode() for i in range(10)]
    assert len(inbox.messages) == 20


async def test_two_instances_deliver_each_others_publishes(
    backend: FanoutBackend, inbox: Inbox, peer: FanoutBackend, peer_inbox: Inbox
) -> None:
    await backend.subscribe(TOPIC)
    await peer.subscribe(TOPIC)

    await backend.publish(TOPIC, b"from one")
    await peer.publish(TOPIC, b"from two")

    # Order holds per publisher: publish() only queues, so either may go first, but
    # Redis then delivers the two in the same order everywhere.
    await wait_for(lambda: len(inbox.of(TOPIC)) == 2, "both messages on the first")
    await wait_for(lambda: len(peer_inbox.of(TOPIC)) == 2, "both messages on the second")
    assert sorted(inbox.of(TOPIC)) == [b"from one", b"from two"]
    assert peer_inbox.of(TOPIC) == inbox.of(TOPIC)


async def test_healthy_once_started(backend: FanoutBackend) -> None:
    assert backend.healthy()


# --- the Redis backend when the link breaks -----------------------------------------


class Proxy:
    """Forward TCP to Redis; closing it looks like a Redis outage, holding it like a hang."""

    def __init__(self, host: str, port: int) -> None:
        self._upstream = (host, port)
        self.port = 0
        self.latency = 0.0  # added to every chunk going to Redis
        self.flowing = asyncio.Event()  # cleared: bytes wait, both ways, as if Redis hung
        self.flowing.set()
        self.replying = asyncio.Event()  # cleared: Redis's replies wait, commands still go
        self.replying.set()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._pipes: set[asyncio.Task[None]] = set()

    async def listen(self) -> None:
        """Accept connections, on the same port as before once it has one."""
        self._server = await asyncio.start_server(self._forward, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    def stop_listening(self) -> None:
        """Refuse new connections; forwarded ones keep working."""
        server, self._server = self._server, None
        if server is not None:
            server.close()

    async def close(self) -> None:
        """Refuse new connections and cut every forwarded one."""
        self.stop_listening()
        for writer in self._writers:
            writer.close()
        for pipe in self._pipes:
            pipe.cancel()  # it may be sleeping out its latency
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Pipe one client connection to Redis and back."""
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._upstream)
            self._writers.add(up_writer)
            pipes = {
                asyncio.create_task(_pipe(reader, up_writer, lambda: self.latency, self.flowing)),
                asyncio.create_task(
                    _pipe(up_reader, writer, lambda: 0.0, self.flowing, self.replying)
                ),
            }
            self._pipes |= pipes
            await asyncio.gather(*pipes, return_exceptions=True)
            self._pipes -= pipes
        except OSError:
            writer.close()
        finally:
            self._tasks.discard(task)


async def _pipe(
    source: asyncio.StreamReader,
    sink: asyncio.StreamWriter,
    latency: Callable[[], float],
    *gates: asyncio.Event,
) -> None:
    """Copy bytes, each chunk delayed by ``latency()`` and held while a gate is closed."""
    try:
        while data := await source.read(65536):
            if delay := latency():
                await asyncio.sleep(delay)
            for gate in gates:
                await gate.wait()
            sink.write(data)
            await sink.drain()
    except OSError:
        pass
    finally:
        sink.close()


async def watched(
    start_redis: StartRedis, url: str, observer_url: str, first: bytes, **options: Any
) -> tuple[RedisBackend, Inbox, Inbox]:
    """Start a backend on ``url`` and an observer on ``observer_url`` subscribed to
    TOPIC; return them once the observer saw ``first``, published by the backend."""
    backend, inbox = await start_redis(url, **options)
    observer, seen = await start_redis(observer_url)
    await observer.subscribe(TOPIC)
    await backend.publish(TOPIC, first)
    await wait_for(lambda: seen.of(TOPIC) == [first], "the first message")
    return backend, inbox, seen


@contextlib.asynccontextmanager
async def acl_user(admin: Redis, prefix: str, rules: str) -> AsyncIterator[tuple[str, str]]:
    """Create a Redis user with ``rules`` (all channels and keys) for the block."""
    user, password = f"{prefix}-user", uuid.uuid4().hex
    await admin.execute_command(
        "ACL", "SETUSER", user, "on", f">{password}", "~*", "&*", *rules.split()
    )
    try:
        yield user, password
    finally:
        await admin.execute_command("ACL", "DELUSER", user)


def as_user(url: str, user: str, password: str, db: int | None = None) -> str:
    """Point ``url`` at ``user`` (and database ``db``)."""
    parts = urlsplit(url)
    netloc = f"{user}:{password}@{parts.netloc.rpartition('@')[2]}"
    path = f"/{db}" if db is not None else parts.path
    return urlunsplit(parts._replace(netloc=netloc, path=path))


def proxied(url: str, port: int) -> str:
    """Point ``url`` at the proxy's port, keeping credentials, database and options."""
    parts = urlsplit(url)
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@127.0.0.1:{port}" if userinfo else f"127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=netloc))


async def kill_links(admin: Redis, name: str, kind: str, last_command: str | None = None) -> int:
    """Kill, server side, the connections of type ``kind`` that carry client ``name``
    (and ran ``last_command`` last, if given)."""
    killed = 0
    for client in await admin.client_list(_type=kind):
        if client["name"] == name and last_command in (None, client["cmd"]):
            killed += await admin.client_kill_filter(_id=client["id"], _type=kind, skipme=True)
    return killed


async def one_pubsub_link(admin: Redis, name: str) -> bool:
    """Tell whether exactly one pub/sub connection carries client ``name``."""
    clients = await admin.client_list(_type="pubsub")
    return sum(client["name"] == name for client in clients) == 1


async def subscribers(admin: Redis, prefix: str, topic: str) -> int:
    """Count, server side, the subscribers of ``topic``'s channel."""
    channel = redis_channel(prefix, topic)
    [(_, count)] = await admin.pubsub_numsub(channel)
    return int(count)


def collected_resource_warnings() -> list[warnings.WarningMessage]:
    """Collect garbage; return the ResourceWarnings (unclosed sockets) it brought up."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gc.collect()
    return [w for w in caught if issubclass(w.category, ResourceWarning)]


def completes_without_suspending(coro: Coroutine[Any, Any, None]) -> bool:
    """Run ``coro`` one step; tell whether it finished without waiting for anything."""
    try:
        coro.send(None)
    except StopIteration:
        return True
    coro.close()
    return False


async def pubsub_links(admin: Redis, name: str) -> list[int]:
    """List the ids of the pub/sub connections that carry client ``name``."""
    return [c["id"] for c in await admin.client_list(_type="pubsub") if c["name"] == name]


async def last_command_is(admin: Redis, name: str, command: str) -> bool:
    """Tell whether client ``name``'s pub/sub connection last ran ``command``."""
    clients = await admin.client_list(_type="pubsub")
    return any(c["name"] == name and c["cmd"] == command for c in clients)


@pytest.fixture
def redis_url() -> str:
    """Return the test Redis URL, skipping when there is none."""
    if not REDIS_URL:
        pytest.skip(NO_REDIS)
    return REDIS_URL


@pytest.fixture
async def admin(redis_url: str) -> AsyncIterator[Redis]:
    """Open a plain client for inspecting and killing the backend's connections."""
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def proxy(redis_url: str) -> AsyncIterator[Proxy]:
    """Start a TCP proxy to the test Redis."""
    parts = urlsplit(redis_url)
    if parts.scheme != "redis" or not parts.hostname:
        pytest.skip("the outage tests proxy plain TCP and need a redis:// URL")
    proxy = Proxy(parts.hostname, parts.port or 6379)
    await proxy.listen()
    yield proxy
    await proxy.close()


@pytest.mark.redis
@pytest.mark.skipif(not REDIS_URL, reason=NO_REDIS)
async def test_joins_in_one_turn_share_one_subscribe(
    redis_url: str, admin: Redis, start_redis: StartRedis
) -> None:
    backend, _inbox = await start_redis(redis_url)
    await backend.subscribe("user:first")

    async def subscribes() -> int:
        return int((await admin.info("commandstats")).get("cmdstat_subscribe", {}).get("calls", 0))

    before = await subscribes()
    await asyncio.gather(*(backend.subscribe(f"user:storm-{i}") for i in range(100)))
    assert await subscribes() - before <= 2  # other tests' clients may subscribe meanwhile


@pytest.mark.redis
@pytest.mark.skipif(not REDIS_URL, reason=NO_REDIS)
class TestRedisOutages:
    """Connections die, Redis goes away and comes back: nothing is left behind."""

    async def test_reconnects_and_resubscribes_after_server_kills_its_connections(
        self,
        redis_url: str,
        admin: Redis,
        prefix: str,
        start_redis: StartRedis,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        caplog.set_level(logging.INFO, logger=LOGGER)
        backend, inbox = await start_redis(redis_url)
        topics = ["user:a", "user:b", "meeting:c"]
        for topic in topics:
            await backend.subscribe(topic)
        await backend.subscribe("user:gone")
        await backend.unsubscribe("user:gone")
        await backend.publish("user:a", b"warm up the publish connection")

        for round_ in (1, 2, 3):
            assert await kill_links(admin, backend.client_name, "normal") >= 1
            assert await kill_links(admin, backend.client_name, "pubsub") == 1

            await wait_for(partial(inbox.reconnected, round_), f"reconnect #{round_}")
            assert backend.healthy()
            for topic in topics:
                # publish() only queues: wait for it before the plain one, or it may overtake.
                own = [f"own {round_}".encode()]
                await backend.publish(topic, own[0])
                await wait_for(partial(inbox.ends_with, topic, own), f"own {round_} on {topic}")
                await admin.publish(redis_channel(prefix, topic), f"plain {round_}".encode())
            for topic in topics:
                want = [f"own {round_}".encode(), f"plain {round_}".encode()]
                await wait_for(partial(inbox.ends_with, topic, want), f"round {round_} on {topic}")
            for topic in topics:
                assert await subscribers(admin, prefix, topic) == 1
            assert await subscribers(admin, prefix, "user:gone") == 0
            await wait_for(
                lambda: one_pubsub_link(admin, backend.client_name),
                "a single pub/sub connection (the replaced ones closed)",
            )

        assert inbox.reconnects == 3
        assert inbox.of("user:gone") == []
        reconnect_logs = [r for r in caplog.records if "re-established" in r.getMessage()]
        assert len(reconnect_logs) == 3

    async def test_subscribe_and_unsubscribe_return_once_redis_applied_them(
        self, redis_url: str, admin: Redis, prefix: str, proxy: Proxy, start_redis: StartRedis
    ) -> None:
        backend, inbox = await start_redis(proxied(redis_url, proxy.port))
        channel = redis_channel(prefix, TOPIC)
        # A slow link to Redis: returning before Redis answered would show right away.
        proxy.latency = 0.2

        await backend.subscribe(TOPIC)
        assert await admin.publish(channel, b"right after subscribe") == 1
        await wait_for(lambda: inbox.of(TOPIC) == [b"right after subscribe"], "the message")

        await backend.unsubscribe(TOPIC)
        assert await admin.publish(channel, b"right after unsubscribe") == 0

    async def test_reconnect_handler_may_subscribe(
        self, redis_url: str, admin: Redis, prefix: str, start_redis: StartRedis
    ) -> None:
        backend, inbox = await start_redis(redis_url)
        await backend.subscribe(TOPIC)

        async def subscribe_other() -> None:
            await backend.subscribe(OTHER)

        inbox.after_reconnect = subscribe_other
        assert await kill_links(admin, backend.client_name, "pubsub") == 1

        await wait_for(lambda: inbox.reconnects == 1, "the reconnect")
        await wait_for(lambda: subscribers(admin, prefix, OTHER), "the handler's subscription")
        await admin.publish(redis_channel(prefix, OTHER), b"other")
        await wait_for(lambda: inbox.of(OTHER) == [b"other"], "the other topic's message")

    async def test_handler_failures_are_logged_and_survived(
        self,
        redis_url: str,
        admin: Redis,
        start_redis: StartRedis,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        caplog.set_level(logging.ERROR, logger=LOGGER)
        backend, inbox = await start_redis(redis_url)
        await backend.subscribe(TOPIC)

        async def fail() -> None:
            raise RuntimeError("the catch-up failed")

        inbox.refuse = b"poison"
        inbox.after_reconnect = fail
        await backend.publish(TOPIC, b"poison")
        await backend.publish(TOPIC, b"fine")
        await wait_for(lambda: inbox.of(TOPIC) == [b"fine"], "the message after the poison")

        assert await kill_links(admin, backend.client_name, "pubsub") == 1
        await wait_for(lambda: inbox.reconnects == 1, "the reconnect")
        await backend.publish(TOPIC, b"still fine")
        await wait_for(lambda: inbox.of(TOPIC) == [b"fine", b"still fine"], "later messages")
        assert backend.healthy()
        logged = {r.getMessage() for r in caplog.records if r.exc_info}
        assert any("message handler failed" in m for m in logged)
        assert any("reconnect handler failed" in m for m in logged)

    async def test_publish_while_redis_is_away_is_delivered_after_it_returns(
        self, redis_url: str, proxy: Proxy, start_redis: StartRedis
    ) -> None:
        backend, inbox = await start_redis(proxied(redis_url, proxy.port), retry_max_s=0.2)
        observer, seen = await start_redis(redis_url)
        await backend.subscribe(TOPIC)
        await observer.subscribe(TOPIC)
        await backend.publish(TOPIC, b"before")
        await wait_for(lambda: seen.of(TOPIC) == [b"before"], "the first message")

        await proxy.close()
        await wait_for(lambda: not backend.healthy(), "the backend to notice the outage")
        await backend.publish(TOPIC, b"during 1")
        await backend.publish(TOPIC, b"during 2")
        # The observer's own publish overtakes them: they are queued, not lost or sent.
        await observer.publish(TOPIC, b"sentinel")
        await wait_for(lambda: seen.of(TOPIC)[-1:] == [b"sentinel"], "the sentinel")
        assert seen.of(TOPIC) == [b"before", b"sentinel"]
        assert inbox.reconnects == 0

        await proxy.listen()
        await wait_for(lambda: inbox.reconnects == 1, "the reconnect")
        assert backend.healthy()
        expected = [b"before", b"sentinel", b"during 1", b"during 2"]
        await wait_for(lambda: seen.of(TOPIC) == expected, "the queued messages elsewhere")
        # It resubscribed before flushing, so it hears its own queued messages too.
        await wait_for(
            lambda: inbox.of(TOPIC) == [b"before", b"during 1", b"during 2"],
            "the queued messages at home",
        )

    async def test_failed_publish_makes_the_reader_reconnect(
        self, redis_url: str, admin: Redis, proxy: Proxy, start_redis: StartRedis
    ) -> None:
        backend, inbox = await start_redis(proxied(redis_url, proxy.port), retry_max_s=0.2)
        observer, seen = await start_redis(redis_url)
        await backend.subscribe(TOPIC)
        await observer.subscribe(TOPIC)
        await backend.publish(TOPIC, b"before")
        await wait_for(lambda: seen.of(TOPIC) == [b"before"], "the first message")

        # Only the publish connection dies and no new one can be made, while the
        # subscription's connection stays up: the failed publish alone must tell.
        proxy.stop_listening()
        assert await kill_links(admin, backend.client_name, "normal") == 1
        await backend.publish(TOPIC, b"failed once")
        await wait_for(lambda: not backend.healthy(), "the publisher to report the failure")
        await proxy.listen()

        await wait_for(lambda: inbox.reconnects == 1, "the reconnect")
        await wait_for(lambda: seen.of(TOPIC) == [b"before", b"failed once"], "the retry")
        await backend.publish(TOPIC, b"after")
        await wait_for(
            lambda: inbox.of(TOPIC) == [b"before", b"failed once", b"after"], "later publishes"
        )

    async def test_publish_never_waits_for_a_hung_redis(
        self, redis_url: str, proxy: Proxy, start_redis: StartRedis
    ) -> None:
        # A long timeout: nothing but the queue may let publish() return early.
        backend, _ = await start_redis(proxied(redis_url, proxy.port), timeout_s=60)
        observer, seen = await start_redis(redis_url)
        await observer.subscribe(TOPIC)

        proxy.flowing.clear()
        messages = [f"m{i}".encode() for i in range(100)]
        for message in messages:
            assert completes_without_suspending(backend.publish(TOPIC, message))
        assert seen.of(TOPIC) == []

        proxy.flowing.set()
        await wait_for(lambda: seen.of(TOPIC) == messages, "every message, in order")
        assert backend.publisher.outbox.dropped_total == 0

    async def test_a_publish_goes_out_before_earlier_ones_are_answered(
        self, redis_url: str, proxy: Proxy, start_redis: StartRedis
    ) -> None:
        # A long timeout: the held replies must not count as a hang here.
        url = proxied(redis_url, proxy.port)
        backend, _, seen = await watched(start_redis, url, redis_url, b"first", timeout_s=60)

        proxy.replying.clear()  # Redis runs each PUBLISH; its reply waits in the proxy
        sent = [b"first"]
        for message in (b"second", b"third", b"fourth"):
            await backend.publish(TOPIC, message)
            sent.append(message)
            await wait_for(
                lambda s=list(sent): seen.of(TOPIC) == s, "a publish behind owed replies"
            )
        proxy.replying.set()
        await backend.publish(TOPIC, b"fifth")
        await wait_for(lambda: seen.of(TOPIC) == [*sent, b"fifth"], "the publish after the replies")
        assert backend.healthy()
        assert backend.publisher.outbox.dropped_total == 0

    async def test_unanswered_publishes_are_a_hang_and_go_again(
        self, redis_url: str, proxy: Proxy, start_redis: StartRedis
    ) -> None:
        # The reader pings too seldom to notice: only the owed replies can tell.
        url = proxied(redis_url, proxy.port)
        options = {"timeout_s": 0.3, "health_check_s": 60, "retry_max_s": 0.2}
        backend, inbox, seen = await watched(start_redis, url, redis_url, b"warm up", **options)

        proxy.replying.clear()
        await backend.publish(TOPIC, b"unanswered")
        await wait_for(lambda: not backend.healthy(), "the publisher to report the hang")
        assert backend.problem() == "no reply to PUBLISH within 0.3 s"
        proxy.replying.set()

        await wait_for(lambda: inbox.reconnects == 1, "the reconnect")
        await backend.publish(TOPIC, b"after")
        await wait_for(lambda: seen.of(TOPIC)[-1:] == [b"after"], "the publish after the hang")
        # Redis ran it before the hang was noticed, and it was sent again after:
        # a repeat, which a hub drops by its seq.
        assert seen.of(TOPIC) == [b"warm up", b"unanswered", b"unanswered", b"after"]

    async def test_a_publish_connection_closed_while_idle_is_replaced_quietly(
        self, redis_url: str, admin: Redis, start_redis: StartRedis
    ) -> None:
        backend, inbox, seen = await watched(start_redis, redis_url, redis_url, b"before")

        # As Redis's idle `timeout` would: nothing was owed, so nothing is in doubt.
        assert await kill_links(admin, backend.client_name, "normal", "publish") == 1
        await asyncio.sleep(0.2)
        assert backend.healthy()
        await backend.publish(TOPIC, b"after")
        await wait_for(lambda: seen.of(TOPIC) == [b"before", b"after"], "the next publish")
        assert inbox.reconnects == 0

    async def test_publishes_as_the_urls_user_on_its_database(
        self, redis_url: str, admin: Redis, prefix: str, start_redis: StartRedis
    ) -> None:
        async with acl_user(admin, prefix, "+@all") as (user, password):
            url = as_user(redis_url, user, password, db=3)
            backend, _, _ = await watched(start_redis, url, redis_url, b"signed in")
            links = [
                c
                for c in await admin.client_list(_type="normal")
                if c["name"] == backend.client_name and c["cmd"] == "publish"
            ]
            assert [(c["user"], c["db"]) for c in links] == [(user, "3")]

    async def test_a_refused_publish_is_dropped_and_logged_once(
        self,
        redis_url: str,
        admin: Redis,
        prefix: str,
        start_redis: StartRedis,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        async with acl_user(admin, prefix, "+@all -publish") as (user, password):
            backend, _ = await start_redis(as_user(redis_url, user, password))
            observer, seen = await start_redis(redis_url)
            await observer.subscribe(TOPIC)
            await backend.publish(TOPIC, b"refused 1")
            await backend.publish(TOPIC, b"refused 2")
            await wait_for(lambda: backend.publisher.outbox.dropped_total == 2, "both refusals")
            refusals = [r for r in caplog.records if "refused a publish" in r.getMessage()]
            assert len(refusals) == 1
            assert "NOPERM" in refusals[0].getMessage()
            assert backend.healthy()  # a refusal is no outage: the link stays up
            await observer.publish(TOPIC, b"sentinel")
            await wait_for(lambda: seen.of(TOPIC) == [b"sentinel"], "the sentinel")

    @pytest.mark.parametrize("kind", [PubSubLink, ClientPubSub])
    async def test_a_node_pubsub_subscribes_reads_pings_and_closes(
        self, redis_url: str, admin: Redis, prefix: str, kind: type
    ) -> None:
        # Both node connections: the lean one (redis://) and redis-py's, which the
        # backend takes for rediss:// and unix:// URLs.
        name = f"{prefix}-node"
        pubsub = PubSubLink(redis_url, name) if kind is PubSubLink else ClientPubSub(redis_url, {})
        channel = f"{prefix}:c"
        await pubsub.connect()
        try:
            await pubsub.send("SUBSCRIBE", [channel])
            confirmed = await pubsub.get_message()
            assert confirmed is not None
            assert (confirmed["type"], confirmed["channel"]) == ("subscribe", channel.encode())
            await admin.publish(channel, b"hello")
            message = await pubsub.get_message()
            assert message is not None
            assert (message["type"], message["data"]) == ("message", b"hello")
            await pubsub.ping()
            pong = await pubsub.get_message()
            assert pong is not None
            assert pong["type"] == "pong"
            if kind is PubSubLink:  # the lean one names itself (CLIENT SETNAME)
                links = await admin.client_list(_type="pubsub")
                assert [c["cmd"] for c in links if c["name"] == name] == ["ping"]
        finally:
            await pubsub.aclose()

    async def test_hung_redis_is_noticed_and_the_link_comes_back(
        self, redis_url: str, admin: Redis, prefix: str, proxy: Proxy, start_redis: StartRedis
    ) -> None:
        backend, inbox = await start_redis(
            proxied(redis_url, proxy.port), timeout_s=0.3, health_check_s=0.1, retry_max_s=0.2
        )
        await backend.subscribe(TOPIC)
        assert backend.problem() is None

        proxy.flowing.clear()  # connected, but nothing answers: a SIGSTOPped Redis
        await wait_for(lambda: not backend.healthy(), "the reader to notice the hang")
        assert backend.problem() == "no reply to PING within 0.3 s"
        assert inbox.reconnects == 0

        proxy.flowing.set()
        await wait_for(lambda: inbox.reconnects == 1, "the reconnect and its catch-up")
        assert backend.healthy()
        assert backend.problem() is None
        await admin.publish(redis_channel(prefix, TOPIC), b"after the hang")
        await wait_for(lambda: inbox.of(TOPIC) == [b"after the hang"], "a message")

    async def test_quiet_link_that_answers_pings_stays_up(
        self, redis_url: str, admin: Redis, prefix: str, start_redis: StartRedis
    ) -> None:
        backend, inbox = await start_redis(redis_url, timeout_s=0.2, health_check_s=0.05)
        await backend.subscribe(TOPIC)
        [link] = await pubsub_links(admin, backend.client_name)

        await wait_for(
            lambda: last_command_is(admin, backend.client_name, "ping"), "a PING on the quiet link"
        )
        await asyncio.sleep(1)  # five timeouts of silence but for the answered PINGs
        assert await pubsub_links(admin, backend.client_name) == [link]
        assert backend.healthy()
        assert inbox.reconnects == 0
        await admin.publish(redis_channel(prefix, TOPIC), b"still subscribed")
        await wait_for(lambda: inbox.of(TOPIC) == [b"still subscribed"], "a message")

    async def test_start_while_redis_is_away_connects_later(
        self, redis_url: str, proxy: Proxy, start_redis: StartRedis
    ) -> None:
        await proxy.close()
        backend, inbox = await start_redis(proxied(redis_url, proxy.port), retry_max_s=0.2)
        assert not backend.healthy()
        await backend.subscribe(TOPIC)
        await backend.publish(TOPIC, b"queued before the first connection")

        await proxy.listen()
        await wait_for(backend.healthy, "the first connection")
        await wait_for(
            lambda: inbox.of(TOPIC) == [b"queued before the first connection"], "the message"
        )
        # Whatever happened before the first connection was missed: catch up.
        assert inbox.reconnects == 1

    async def test_subscription_changes_while_away_apply_on_reconnect(
        self, redis_url: str, admin: Redis, prefix: str, proxy: Proxy, start_redis: StartRedis
    ) -> None:
        backend, inbox = await start_redis(proxied(redis_url, proxy.port), retry_max_s=0.2)
        await backend.subscribe(TOPIC)
        await proxy.close()
        await wait_for(lambda: not backend.healthy(), "the backend to notice the outage")

        async with asyncio.timeout(1):  # must not wait for the link
            await backend.subscribe(OTHER)
            await backend.unsubscribe(TOPIC)
        await proxy.listen()
        await wait_for(lambda: inbox.reconnects == 1, "the reconnect")

        assert await subscribers(admin, prefix, TOPIC) == 0
        assert await subscribers(admin, prefix, OTHER) == 1
        await admin.publish(redis_channel(prefix, TOPIC), b"dropped")
        await admin.publish(redis_channel(prefix, OTHER), b"kept")
        await wait_for(lambda: inbox.of(OTHER) == [b"kept"], "the new topic's message")
        assert inbox.of(TOPIC) == []

    async def test_publish_queue_keeps_the_newest_and_warns(
        self,
        redis_url: str,
        proxy: Proxy,
        start_redis: StartRedis,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        caplog.set_level(logging.WARNING, logger=LOGGER)
        backend, inbox = await start_redis(
            proxied(redis_url, proxy.port), retry_max_s=0.2, queue_max_frames=3
        )
        await backend.subscribe(TOPIC)
        await proxy.close()
        await wait_for(lambda: not backend.healthy(), "the backend to notice the outage")
        for i in range(5):
            await backend.publish(TOPIC, f"m{i}".encode())

        await proxy.listen()
        # The three kept go out once the link is back; a publish before they are
        # out would itself displace the oldest, as the queue is still full.
        await wait_for(lambda: len(inbox.of(TOPIC)) == 3, "the kept publishes")
        await backend.publish(TOPIC, b"sentinel")
        await wait_for(lambda: inbox.of(TOPIC)[-1:] == [b"sentinel"], "the sentinel")
        assert inbox.of(TOPIC) == [b"m2", b"m3", b"m4", b"sentinel"]
        assert any("queue is full" in r.getMessage() for r in caplog.records)
        assert any("Dropped 2 publishes" in r.getMessage() for r in caplog.records)

    async def test_stop_releases_a_start_still_waiting_for_redis(
        self, redis_url: str, prefix: str, proxy: Proxy
    ) -> None:
        proxy.latency = 60  # connects, then the handshake hangs
        backend = RedisBackend(proxied(redis_url, proxy.port), prefix)
        starting = asyncio.create_task(backend.start(Inbox().on_message, Inbox().on_reconnect))
        await wait_for(
            lambda: any(task.get_name() == TASK_NAME for task in asyncio.all_tasks()),
            "the supervisor",
        )
        assert not starting.done()

        await backend.stop()

        async with asyncio.timeout(1):
            await starting
        assert not backend.healthy()

    @pytest.mark.parametrize("link", ["up", "down"])
    async def test_stop_leaves_no_tasks_or_open_connections(
        self, redis_url: str, prefix: str, proxy: Proxy, link: str
    ) -> None:
        url = redis_url
        if link == "down":
            await proxy.close()
            url = proxied(redis_url, proxy.port)
        before = asyncio.all_tasks()
        backend = RedisBackend(url, prefix, retry_max_s=0.2)
        await backend.start(Inbox().on_message, Inbox().on_reconnect)
        await backend.subscribe(TOPIC)
        await backend.publish(TOPIC, b"hello")
        assert backend.healthy() == (link == "up")
        assert any(task.get_name() == TASK_NAME for task in asyncio.all_tasks())

        await backend.stop()

        assert asyncio.all_tasks() - before == set()
        del backend
        assert collected_resource_warnings() == []
