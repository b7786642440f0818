"""Redis pub/sub fan-out: carries news between server instances sharing one Redis."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any, Literal

import redis.exceptions
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
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
from server.realtime.topics import redis_channel, redis_channel_topic

logger = logging.getLogger("server.realtime.redis")

TASK_NAME = "redis-fanout-reader"
__all__ = ["LINK_ERRORS", "PUBLISHER_TASK_NAME", "TASK_NAME", "RedisBackend"]

_BACKOFF_START_S = 0.05
# Bounds the (re)subscribe handshake, which reads one confirmation per topic.
_HANDSHAKE_TIMEOUT_S = 10.0

Request = Literal["subscribe", "unsubscribe"]


class RedisHungError(TimeoutError):
    """Redis accepted the connection but stopped answering it."""


class RedisBackend:
    """Fan messages out through Redis pub/sub, surviving Redis restarts, hangs and network cuts."""

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
        self.publisher = RedisPublisher(
            Outbox(queue_max_frames, queue_max_bytes),
            self._channel,
            link_up=self.healthy,
            on_failure=self._lose_link,
        )
        self._on_message: MessageHandler | None = None
        self._on_reconnect: ReconnectHandler | None = None
        self._publish_client: Redis | None = None
        self._subscriber: Redis | None = None
        self._pubsub: PubSub | None = None
        self._task: asyncio.Task[None] | None = None
        self._first_attempt: asyncio.Event | None = None
        self._up = False
        self._problem = "not connected yet"
        self._topics: set[str] = set()
        self._waiters: dict[tuple[Request, str], deque[asyncio.Future[None]]] = {}
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
        # One immediate retry lets a publish survive a pooled connection that Redis
        # closed while idle; the pool cannot spot those while RESP3 maintenance
        # notifications are on. Timeouts are not retried: that PUBLISH may have run.
        self._publish_client = self._connect(
            Retry(NoBackoff(), 1, (redis.exceptions.ConnectionError,))
        )
        # The supervisor owns resubscribing: redis-py reconnecting a pubsub on its
        # own would hide the outage, and with it the messages the hub must catch up.
        self._subscriber = self._connect(Retry(NoBackoff(), 0))
        self.publisher.start(self._publish_client)
        self._first_attempt = asyncio.Event()
        self._task = asyncio.create_task(self._supervise(), name=TASK_NAME)
        await self._first_attempt.wait()

    async def stop(self) -> None:
        """Cancel and await the supervisor, close the pubsub and client, drop all state."""
        task, self._task = self._task, None
        self._up = False
        await cancel_task(task)
        await self.publisher.stop()
        self._attempted()  # A start() still waiting must not wait forever.
        self._release_waiters()
        await self._close_pubsub()
        for client in (self._publish_client, self._subscriber):
            if client is not None:
                await client.aclose()
        self._publish_client = self._subscriber = None
        self._topics.clear()
        self._on_message = self._on_reconnect = None

    async def publish(self, topic: str, message: bytes) -> None:
        """Queue ``message`` for the publisher task; never waits for Redis."""
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

    def _connect(self, retry: Retry) -> Redis:
        """Create a client; it connects lazily, so Redis may well be down now."""
        return Redis.from_url(
            self._url,
            decode_responses=False,
            client_name=self.client_name,
            socket_timeout=self._timeout_s,
            socket_connect_timeout=self._timeout_s,
            retry=retry,
        )

    def _channel(self, topic: str) -> str:
        """Name the Redis channel of ``topic``."""
        return redis_channel(self._prefix, topic)

    async def _request(self, kind: Request, topic: str) -> None:
        """Send SUBSCRIBE or UNSUBSCRIBE for ``topic`` and await the confirmation."""
        pubsub = self._pubsub
        if not self._up or pubsub is None:
            return  # The reconnect handshake subscribes exactly self._topics.
        channel = self._channel(topic)
        confirmed = self._expect(kind, channel)
        try:
            if kind == "subscribe":
                await pubsub.subscribe(channel)
            else:
                await pubsub.unsubscribe(channel)
        except LINK_ERRORS as exc:
            self._lose_link(exc)  # Also releases ``confirmed``.
        except BaseException:
            self._forget(kind, channel, confirmed)
            raise
        # The reader resolves ``confirmed``, so waiting from inside the reader's own
        # task (on_reconnect subscribing) would deadlock.
        if asyncio.current_task() is not self._task:
            await confirmed

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
        """Resolve the oldest waiter for ``kind`` of ``channel``."""
        waiters = self._waiters.get((kind, channel))
        if not waiters:
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
        """Open a fresh pubsub, subscribe every topic and flush the queue; tell if it worked."""
        try:
            pubsub = await self._open_pubsub()
            await self._subscribe_all(pubsub)
        except Exception as exc:
            self._log_attempt_failure(exc, failed)
            await self._close_pubsub()
            return False
        self._up = True
        self.publisher.wake()  # What was queued meanwhile goes out after the subscriptions.
        return True

    def _log_attempt_failure(self, exc: Exception, failed: int) -> None:
        """Log a failed connection attempt, loudly only for the first of an outage."""
        self._problem = _describe(exc, self._timeout_s)
        if not isinstance(exc, LINK_ERRORS):
            logger.error("Redis fan-out connection attempt failed", exc_info=exc)
        elif failed == 0:
            logger.warning("Redis fan-out unreachable, retrying: %s: %s", type(exc).__name__, exc)
        else:
            logger.debug("Redis fan-out still unreachable: %s: %s", type(exc).__name__, exc)

    async def _open_pubsub(self) -> PubSub:
        """Replace the pubsub with a fresh, connected one."""
        if self._subscriber is None:
            raise RuntimeError("RedisBackend is not started")
        await self._close_pubsub()
        self._pubsub = self._subscriber.pubsub()
        # Connect now so the reader can block on the socket before any SUBSCRIBE.
        await self._pubsub.connect()
        return self._pubsub

    async def _close_pubsub(self) -> None:
        """Close the pubsub and its connection, if any."""
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            try:
                await pubsub.aclose()
            except Exception as exc:  # Cleanup after a failure must not kill the supervisor.
                logger.debug("Closing the Redis pubsub failed: %r", exc)

    async def _subscribe_all(self, pubsub: PubSub) -> None:
        """Subscribe every recorded topic and wait until Redis confirmed each one."""
        done: set[str] = set()
        async with asyncio.timeout(_HANDSHAKE_TIMEOUT_S):
            # Loop because subscribe() only records topics while the link is down.
            while missing := self._topics - done:
                channels = {self._channel(topic) for topic in missing}
                await pubsub.subscribe(*channels)
                await self._read_confirmations(pubsub, channels)
                done |= missing
        if stale := done - self._topics:
            await pubsub.unsubscribe(*(self._channel(topic) for topic in stale))

    async def _read_confirmations(self, pubsub: PubSub, channels: set[str]) -> None:
        """Read until every channel's subscription is confirmed, delivering what arrives."""
        waiting = set(channels)
        while waiting:
            message = await pubsub.get_message(timeout=None)
            if message is None:
                continue
            self._dispatch(message)
            if message["type"] == "subscribe":
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
        """Deliver messages until the link drops, then close the pubsub."""
        try:
            await self._read()
        except LINK_ERRORS as exc:
            self._lose_link(exc)
        except Exception as exc:
            logger.error("Redis fan-out reader failed", exc_info=exc)
            self._lose_link(exc)
        await self._close_pubsub()

    async def _read(self) -> None:
        """Read and dispatch pubsub messages until the link is marked lost or hangs."""
        pubsub = self._pubsub
        if pubsub is None:
            return
        clock = asyncio.get_running_loop().time
        live = Liveness(self._health_check_s, self._timeout_s, clock())
        try:
            # A failed publish reschedules this deadline to interrupt the blocked read.
            async with asyncio.timeout(None) as self._reading:
                while self._up:
                    message = await pubsub.get_message(timeout=live.wait(clock()))
                    await self._heed(pubsub, live, message, clock())
        finally:
            self._reading = None

    async def _heed(
        self, pubsub: PubSub, live: Liveness, message: dict[str, Any] | None, now: float
    ) -> None:
        """Dispatch a message; else PING a quiet link, or give up on a hung one."""
        if message is not None:
            live.hear(now)
            self._dispatch(message)
        elif live.hung(now):
            raise RedisHungError(f"no reply to PING within {self._timeout_s:g} s")
        elif live.ping_due(now):
            live.ping(now)
            await pubsub.ping()

    def _dispatch(self, message: dict[str, Any]) -> None:
        """Deliver a published message or resolve a subscription confirmation."""
        kind = message["type"]
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


def _describe(exc: BaseException, timeout_s: float) -> str:
    """Say why the link is down, for an unauthenticated readiness answer: no addresses."""
    if isinstance(exc, RedisHungError):
        return str(exc)
    if isinstance(exc, TimeoutError | redis.exceptions.TimeoutError):
        return f"no reply within {timeout_s:g} s"
    if isinstance(exc, LINK_ERRORS):
        return f"unreachable ({type(exc).__name__})"
    return f"failed ({type(exc).__name__})"


def _decode(channel: bytes) -> str:
    """Decode a channel name the way redis-py encoded it."""
    return channel.decode("utf-8", errors="replace")
