"""Redis pub/sub fan-out: carries news between server instances sharing one Redis."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Collection, Coroutine
from typing import Any, ClassVar, Literal

import redis.exceptions
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from server.realtime.backend import MessageHandler, ReconnectHandler
from server.realtime.liveness import Liveness
from server.realtime.outbox import Outbox
from server.realtime.redis_publisher import (
    LINK_ERRORS,
    PUBLISHER_TASK_NAME,
    RedisPublisher,
    cancel_task,
)
from server.realtime.redis_pubsub import NodePubSub, open_pubsub
from server.realtime.redis_stream import PublishHungError, StreamingPublisher
from server.realtime.resp import serves
from server.realtime.topics import redis_channel, redis_channel_topic

logger = logging.getLogger("server.realtime.redis")

TASK_NAME = "redis-fanout-reader"
__all__ = ["LINK_ERRORS", "PUBLISHER_TASK_NAME", "TASK_NAME", "RedisBackend"]

_BACKOFF_START_S = 0.05
# Bounds the (re)subscribe handshake, which reads one confirmation per topic.
_HANDSHAKE_TIMEOUT_S = 10.0

Request = Literal["subscribe", "unsubscribe"]
Kind = Literal["message", "subscribe", "unsubscribe"]


class RedisHungError(TimeoutError):
    """Redis accepted the connection but stopped answering it."""


class SubscriptionDroppedError(redis.exceptions.ConnectionError):
    """Redis ended a subscription nobody asked to end (a Cluster moved the channel's slot)."""


class RedisBackend:
    """Fan messages out through Redis pub/sub, surviving Redis restarts, hangs and network cuts.

    The subscriptions live on one pub/sub connection per Redis node: one node here,
    every master of a Redis Cluster in ``RedisClusterBackend``, which overrides the
    hooks that say which nodes there are and which node carries a channel.
    """

    # The pub/sub message types this backend reads, by what they mean to it.
    KINDS: ClassVar[dict[str, Kind]] = {
        "message": "message",
        "subscribe": "subscribe",
        "unsubscribe": "unsubscribe",
    }
    PUBLISH_COMMAND: ClassVar[str] = "PUBLISH"
    STREAMING: ClassVar[bool] = True  # may publish through StreamingPublisher
    link_errors: ClassVar[tuple[type[BaseException], ...]] = LINK_ERRORS

    def __init__(
        self,
        url: str,
        prefix: str = "ht",
        *,
        retry_max_s: float = 2.0,
        timeout_s: float = 2.0,
        health_check_s: float = 1.0,
        queue_max_frames: int = 10_000,
        queue_max_bytes: int = 16 << 20,
    ) -> None:
        if not prefix or any(c.isspace() for c in prefix):
            raise ValueError("prefix must be non-empty and contain no whitespace")
        if min(retry_max_s, timeout_s, health_check_s) <= 0:
            raise ValueError("retry_max_s, timeout_s and health_check_s must be positive")
        self._url = url
        self._prefix = prefix
        self._retry_max_s = retry_max_s
        self._timeout_s = timeout_s
        self._health_check_s = health_check_s
        self.publisher = self._new_publisher(Outbox(queue_max_frames, queue_max_bytes))
        self._on_message: MessageHandler | None = None
        self._on_reconnect: ReconnectHandler | None = None
        # One pub/sub connection per node, by node URL.
        self._pubsubs: dict[str, NodePubSub] = {}
        self._task: asyncio.Task[None] | None = None
        self._first_attempt: asyncio.Event | None = None
        self._up = False
        self._problem = "not connected yet"
        self._topics: set[str] = set()
        self._waiters: dict[tuple[Request, str], deque[asyncio.Future[None]]] = {}
        # Requests not sent yet, in order, and the task sending them.
        self._outgoing: deque[tuple[Request, str, asyncio.Future[None]]] = deque()
        self._sender: asyncio.Task[None] | None = None
        self._reading: asyncio.Timeout | None = None

    @property
    def client_name(self) -> str:
        """Name this backend's connections carry in Redis's CLIENT LIST."""
        return f"{self._prefix}-fanout"

    async def start(self, on_message: MessageHandler, on_reconnect: ReconnectHandler) -> None:
        """Start the supervisor and wait for its first connection attempt, failed or not."""
        if self._task is not None:
            raise RuntimeError("RedisBackend is already started")
        self._on_message = on_message
        self._on_reconnect = on_reconnect
        self.publisher.start()
        self._first_attempt = asyncio.Event()
        self._task = asyncio.create_task(self._supervise(), name=TASK_NAME)
        await self._first_attempt.wait()

    async def stop(self) -> None:
        """Cancel and await the supervisor, close the pubsub and client, drop all state."""
        task, self._task = self._task, None
        self._up = False
        await cancel_task(task)
        sender, self._sender = self._sender, None
        await cancel_task(sender)
        self._outgoing.clear()
        await self.publisher.stop()
        self._attempted()  # A start() still waiting must not wait forever.
        self._release_waiters()
        await self._close_pubsubs()
        self._topics.clear()
        self._on_message = self._on_reconnect = None

    async def publish(self, topic: str, message: bytes) -> None:
        """Queue ``message`` for the publisher (which may write it at once); never waits."""
        self.publisher.put(topic, message)

    async def subscribe(self, topic: str) -> None:
        """Record ``topic`` and, while the link is up, wait until Redis confirmed it."""
        self._topics.add(topic)
        await self._request("subscribe", topic)

    async def unsubscribe(self, topic: str) -> None:
        """Forget ``topic`` and, while the link is up, wait until Redis confirmed it."""
        self._topics.discard(topic)
        await self._request("unsubscribe", topic)

    def healthy(self) -> bool:
        """Tell whether the link to Redis is currently up."""
        return self._up

    def problem(self) -> str | None:
        """Say why the link to Redis is not up, or None while it is."""
        return None if self._up else self._problem

    def _client_options(self) -> dict[str, Any]:
        """Options of every client this backend opens."""
        return {
            "decode_responses": False,
            "client_name": self.client_name,
            "socket_timeout": self._timeout_s,
            "socket_connect_timeout": self._timeout_s,
        }

    def _new_publisher(self, outbox: Outbox) -> RedisPublisher | StreamingPublisher:
        """Build the publisher: streaming on one Redis over TCP, else a pipeline per batch."""
        if self.STREAMING and serves(self._url):
            return StreamingPublisher(
                outbox,
                self._channel,
                url=self._url,
                client_name=self.client_name,
                timeout_s=self._timeout_s,
                link_up=self.healthy,
                on_failure=self._lose_link,
                command=self.PUBLISH_COMMAND,
            )
        return RedisPublisher(
            outbox,
            self._channel,
            connect=self._connect_publisher,
            link_up=self.healthy,
            on_failure=self._lose_link,
            command=self.PUBLISH_COMMAND,
            link_errors=self.link_errors,
        )

    def _connect_publisher(self) -> Redis | RedisCluster:
        """Create the publish client; it connects lazily, so Redis may well be down now."""
        # One immediate retry lets a publish survive a pooled connection that Redis
        # closed while idle; the pool cannot spot those while RESP3 maintenance
        # notifications are on. Timeouts are not retried: that PUBLISH may have run.
        retry = Retry(NoBackoff(), 1, (redis.exceptions.ConnectionError,))
        return Redis.from_url(self._url, retry=retry, **self._client_options())

    async def _node_urls(self) -> list[str]:
        """Name the nodes to hold a pub/sub connection to: the one Redis."""
        return [self._url]

    def _route(self, channels: Collection[str]) -> dict[str, set[str]]:
        """Group ``channels`` by the node that carries them: all on the one Redis."""
        return {self._url: set(channels)}

    async def _send_request(
        self, pubsub: NodePubSub, kind: Request, channels: Collection[str]
    ) -> None:
        """Send SUBSCRIBE or UNSUBSCRIBE for ``channels`` on ``pubsub``."""
        await pubsub.send(kind.upper(), list(channels))

    def _channel(self, topic: str) -> str:
        """Name the Redis channel of ``topic``."""
        return redis_channel(self._prefix, topic)

    async def _request(self, kind: Request, topic: str) -> None:
        """Send SUBSCRIBE or UNSUBSCRIBE for ``topic`` and await the confirmation.

        Requests made in one turn of the loop go out together, in order: each run
        of one kind as one command per node (a storm's joins share a SUBSCRIBE).
        """
        if not self._up or not self._pubsubs:
            return  # The reconnect handshake subscribes exactly self._topics.
        channel = self._channel(topic)
        confirmed = self._expect(kind, channel)
        self._outgoing.append((kind, channel, confirmed))
        if self._sender is None:
            self._sender = asyncio.create_task(self._send_outgoing(), name="redis-requests")
        # The reader resolves ``confirmed``, so waiting from inside the reader's own
        # task (on_reconnect subscribing) would deadlock.
        if asyncio.current_task() is not self._task:
            await confirmed

    async def _send_outgoing(self) -> None:
        """Send the queued requests: consecutive ones of a kind in one command per node
        (a channel asked twice goes in the next command: each confirms one request)."""
        try:
            while self._outgoing:
                kind = self._outgoing[0][0]
                run: list[tuple[Request, str, asyncio.Future[None]]] = []
                channels: set[str] = set()
                while self._outgoing and self._outgoing[0][0] == kind:
                    if self._outgoing[0][1] in channels:
                        break
                    channels.add(self._outgoing[0][1])
                    run.append(self._outgoing.popleft())
                await self._send_run(kind, run)
        finally:
            self._sender = None

    async def _send_run(
        self, kind: Request, run: list[tuple[Request, str, asyncio.Future[None]]]
    ) -> None:
        """Send one run of requests; a failure other than the link's fails their waiters."""
        if not self._up or not self._pubsubs:
            return  # The link went down: its loss released these waiters.
        try:
            for node, channels in self._route([channel for _, channel, _ in run]).items():
                await self._send_request(self._pubsubs[node], kind, channels)
        except self.link_errors as exc:
            self._lose_link(exc)  # Also releases the waiters.
        except Exception as exc:
            for _, channel, waiter in run:
                self._forget(kind, channel, waiter)
                if not waiter.done():
                    waiter.set_exception(exc)

    def _expect(self, kind: Request, channel: str) -> asyncio.Future[None]:
        """Register a future the reader resolves when Redis confirms ``kind`` of ``channel``."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault((kind, channel), deque()).append(waiter)
        return waiter

    def _forget(self, kind: Request, channel: str, waiter: asyncio.Future[None]) -> None:
        """Drop a waiter whose command may never have been sent."""
        waiters = self._waiters.get((kind, channel))
        if waiters is not None and waiter in waiters:
            waiters.remove(waiter)
            if not waiters:
                del self._waiters[(kind, channel)]

    def _confirm(self, kind: Request, channel: str) -> None:
        """Resolve the oldest waiter for ``kind`` of ``channel``.

        Redis ending a subscription unasked (a Cluster moving the channel's slot)
        means the link lost that topic: reconnect, and let the hub catch up.
        """
        waiters = self._waiters.get((kind, channel))
        if not waiters:
            if kind == "unsubscribe" and redis_channel_topic(self._prefix, channel) in self._topics:
                raise SubscriptionDroppedError("Redis ended a subscription (its slot moved)")
            return
        waiter = waiters.popleft()
        if not waiters:
            del self._waiters[(kind, channel)]
        if not waiter.done():
            waiter.set_result(None)

    def _release_waiters(self) -> None:
        """Resolve every waiter: the link is gone, the reconnect will subscribe anyway."""
        for waiters in self._waiters.values():
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)
        self._waiters.clear()

    def _lose_link(self, reason: BaseException) -> None:
        """Mark the link down, release subscribe waiters and interrupt the reader."""
        if self._up:
            logger.warning("Redis fan-out link lost: %s: %s", type(reason).__name__, reason)
            self._problem = _describe(reason, self._timeout_s)
        self._up = False
        self._release_waiters()
        reading, self._reading = self._reading, None
        if reading is not None:
            reading.reschedule(asyncio.get_running_loop().time())

    async def _supervise(self) -> None:
        """Keep the link up until cancelled: connect, read until it drops, back off, retry."""
        start_delay = min(_BACKOFF_START_S, self._retry_max_s)
        delay = start_delay
        failed = 0  # failed attempts in the current outage
        first = True
        while True:
            up = await self._establish(failed)
            self._attempted()
            if up:
                if not first:
                    await self._announce_reconnect(failed)
                failed, delay = 0, start_delay
                await self._serve()
            else:
                failed += 1
            first = False
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._retry_max_s)

    def _attempted(self) -> None:
        """Let start() return: the first connection attempt is over."""
        if self._first_attempt is not None:
            self._first_attempt.set()

    async def _establish(self, failed: int) -> bool:
        """Open fresh pubsubs, subscribe every topic and flush the queue; tell if it worked."""
        try:
            await self._open_pubsubs()
            await self._subscribe_all()
        except Exception as exc:
            self._log_attempt_failure(exc, failed)
            await self._close_pubsubs()
            return False
        self._up = True
        self.publisher.wake()  # What was queued meanwhile goes out after the subscriptions.
        return True

    def _log_attempt_failure(self, exc: Exception, failed: int) -> None:
        """Log a failed connection attempt, loudly only for the first of an outage."""
        self._problem = _describe(exc, self._timeout_s)
        if not isinstance(exc, self.link_errors):
            logger.error("Redis fan-out connection attempt failed", exc_info=exc)
        elif failed == 0:
            logger.warning("Redis fan-out unreachable, retrying: %s: %s", type(exc).__name__, exc)
        else:
            logger.debug("Redis fan-out still unreachable: %s: %s", type(exc).__name__, exc)

    async def _open_pubsubs(self) -> None:
        """Replace the pubsubs with fresh, connected ones, one per node."""
        await self._close_pubsubs()
        for url in await self._node_urls():
            pubsub = open_pubsub(url, self.client_name, self._client_options())
            self._pubsubs[url] = pubsub
            # Connect now so the reader can block on the socket before any SUBSCRIBE.
            async with asyncio.timeout(self._timeout_s):
                await pubsub.connect()

    async def _close_pubsubs(self) -> None:
        """Close the pubsubs and their connections, if any."""
        pubsubs, self._pubsubs = self._pubsubs, {}
        for pubsub in pubsubs.values():
            try:
                await pubsub.aclose()
            except Exception as exc:  # Cleanup after a failure must not kill the supervisor.
                logger.debug("Closing a Redis pubsub failed: %r", exc)

    async def _subscribe_all(self) -> None:
        """Subscribe every recorded topic and wait until Redis confirmed each one."""
        done: set[str] = set()
        async with asyncio.timeout(_HANDSHAKE_TIMEOUT_S):
            # Loop because subscribe() only records topics while the link is down.
            while missing := self._topics - done:
                channels = {self._channel(topic) for topic in missing}
                for node, routed in self._route(channels).items():
                    pubsub = self._pubsubs[node]
                    await self._send_request(pubsub, "subscribe", routed)
                    await self._read_confirmations(pubsub, routed)
                done |= missing
        if stale := {self._channel(topic) for topic in done - self._topics}:
            for node, routed in self._route(stale).items():
                for channel in routed:
                    self._expect("unsubscribe", channel)
                await self._send_request(self._pubsubs[node], "unsubscribe", routed)

    async def _read_confirmations(self, pubsub: NodePubSub, channels: set[str]) -> None:
        """Read until every channel's subscription is confirmed, delivering what arrives."""
        waiting = set(channels)
        while waiting:
            message = await pubsub.get_message()
            if message is None:
                continue
            self._dispatch(message)
            if self.KINDS.get(message["type"]) == "subscribe":
                waiting.discard(_decode(message["channel"]))

    async def _announce_reconnect(self, failed: int) -> None:
        """Log the reconnect and let the hub catch up on what the outage may have lost."""
        logger.info("Redis fan-out link re-established after %d failed attempt(s)", failed)
        if self._on_reconnect is None:
            return
        try:
            await self._on_reconnect()
        except Exception:
            logger.exception("The fan-out reconnect handler failed")

    async def _serve(self) -> None:
        """Deliver messages until the link drops, then close the pubsubs."""
        try:
            await self._read()
        except self.link_errors as exc:
            self._lose_link(exc)
        except Exception as exc:
            logger.error("Redis fan-out reader failed", exc_info=exc)
            self._lose_link(exc)
        await self._close_pubsubs()

    async def _read(self) -> None:
        """Read every node's pubsub until the link is marked lost, or one node fails or hangs."""
        now = asyncio.get_running_loop().time()
        readers = []
        for pubsub in self._pubsubs.values():
            live = Liveness(self._health_check_s, self._timeout_s, now)
            readers += [self._read_node(pubsub, live), self._watch_node(pubsub, live)]
        try:
            # A failed publish reschedules this deadline to interrupt the blocked reads.
            async with asyncio.timeout(None) as self._reading:
                await _until_first_ends(readers)
        finally:
            self._reading = None

    async def _read_node(self, pubsub: NodePubSub, live: Liveness) -> None:
        """Read and dispatch one node's messages until the link is lost.

        The read blocks without a deadline (a deadline per read cost a timer per
        message, 4 % of a busy server's samples); ``_watch_node`` keeps time.
        """
        clock = asyncio.get_running_loop().time
        while self._up:
            message = await pubsub.get_message()
            live.hear(clock())
            if message is not None:
                self._dispatch(message)

    async def _watch_node(self, pubsub: NodePubSub, live: Liveness) -> None:
        """PING a node whose link went quiet; give up on it when a PING goes unanswered."""
        clock = asyncio.get_running_loop().time
        while self._up:
            await asyncio.sleep(live.wait(clock()))
            now = clock()
            if live.hung(now):
                raise RedisHungError(f"no reply to PING within {self._timeout_s:g} s")
            if live.ping_due(now):
                live.ping(now)
                await pubsub.ping()

    def _dispatch(self, message: dict[str, Any]) -> None:
        """Deliver a published message or resolve a subscription confirmation."""
        kind = self.KINDS.get(message["type"])
        if kind == "message":
            self._deliver(_decode(message["channel"]), message["data"])
        elif kind in ("subscribe", "unsubscribe"):
            self._confirm(kind, _decode(message["channel"]))

    def _deliver(self, channel: str, data: bytes) -> None:
        """Hand ``data`` to the handler when ``channel`` carries a subscribed topic."""
        topic = redis_channel_topic(self._prefix, channel)
        # Filtering on our own set makes unsubscribe() take effect at once.
        if topic is None or topic not in self._topics or self._on_message is None:
            return
        try:
            self._on_message(topic, data)
        except Exception:
            logger.exception("The fan-out message handler failed for topic %s", topic)


async def _until_first_ends(readers: list[Coroutine[Any, Any, None]]) -> None:
    """Run ``readers`` side by side until one ends; cancel the rest, raise what failed."""
    tasks = [asyncio.create_task(reader) for reader in readers]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            await cancel_task(task)
    errors = [task.exception() for task in tasks if not task.cancelled()]
    if error := next(filter(None, errors), None):
        raise error


def _describe(exc: BaseException, timeout_s: float) -> str:
    """Say why the link is down, for an unauthenticated readiness answer: no addresses."""
    if isinstance(exc, RedisHungError | PublishHungError | SubscriptionDroppedError):
        return str(exc)
    if isinstance(exc, TimeoutError | redis.exceptions.TimeoutError):
        return f"no reply within {timeout_s:g} s"
    if isinstance(exc, LINK_ERRORS):
        return f"unreachable ({type(exc).__name__})"
    return f"failed ({type(exc).__name__})"


def _decode(channel: bytes) -> str:
    """Decode a channel name the way redis-py encoded it."""
    return channel.decode("utf-8", errors="replace")
