"""The Redis publisher: one task drains the outbox, pipelining whatever is queued."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import redis.exceptions
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from server.realtime.outbox import Frame, Outbox

logger = logging.getLogger("server.realtime.redis")

PUBLISHER_TASK_NAME = "redis-fanout-publisher"

# Errors that mean "the link to Redis is gone"; the builtin ConnectionError and
# TimeoutError (asyncio's included) are OSError subclasses.
LINK_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)

# One round trip carries at most this much. A batch whose replies do not come back
# is sent again after the reconnect, and may then arrive twice; hubs drop repeats by seq.
BATCH_MAX_FRAMES = 1000
BATCH_MAX_BYTES = 1 << 20
_STOP_RECHECK_S = 0.1


async def cancel_task(task: asyncio.Task[None] | None) -> None:
    """Cancel ``task`` and wait until it is really gone."""
    # Python 3.11's asyncio.wait_for, which redis-py sends every command through,
    # can swallow a cancellation: repeat it until the task is really gone.
    while task is not None and not task.done():
        task.cancel()
        await asyncio.wait([task], timeout=_STOP_RECHECK_S)


def queue_frame(outbox: Outbox, topic: str, message: bytes) -> None:
    """Queue a frame; warn on the first drop of an episode."""
    dropping = outbox.dropped
    outbox.put(topic, message)
    if not dropping and outbox.dropped:
        logger.warning(
            "Redis publish queue is full (%d frames, %d bytes); dropping the oldest, "
            "whose recipients catch up from the event log",
            outbox.max_frames,
            outbox.max_bytes,
        )


def discard_queued(outbox: Outbox) -> None:
    """Empty the outbox on stop, saying how many frames it held."""
    if discarded := outbox.clear():
        logger.warning("Discarding %d unsent publishes on stop", discarded)
    outbox.take_dropped()


def report_drops(outbox: Outbox) -> None:
    """Say how many frames an episode dropped (call it once the outbox is empty again)."""
    if dropped := outbox.take_dropped():
        logger.warning(
            "Dropped %d publishes while Redis was unreachable or slow; "
            "their recipients catch up from the event log",
            dropped,
        )


class RedisPublisher:
    """Send an outbox's frames to Redis from one named task; callers never wait.

    A batch at a time, in one pipeline: what a Redis Cluster needs (its client
    routes each SPUBLISH to the master owning the channel's slot). One Redis takes
    ``StreamingPublisher`` (``redis_stream.py``), which does not wait for a batch's
    replies before the next.

    It sends only while ``link_up()`` says the backend's link is up, so frames
    queued during an outage go out, oldest first, once the subscriptions are back.
    A batch that fails on the link (one of ``link_errors``) goes back to the head
    of the outbox and ``on_failure`` is told, so the backend reconnects.
    ``command`` is PUBLISH, or SPUBLISH on a Redis Cluster.
    """

    def __init__(
        self,
        outbox: Outbox,
        channel: Callable[[str], str],
        *,
        connect: Callable[[], Redis | RedisCluster],
        link_up: Callable[[], bool],
        on_failure: Callable[[BaseException], None],
        command: str = "PUBLISH",
        link_errors: tuple[type[BaseException], ...] = LINK_ERRORS,
    ) -> None:
        self.outbox = outbox
        self._channel = channel
        self._connect = connect
        self._link_up = link_up
        self._on_failure = on_failure
        self._command = command
        self._link_errors = link_errors
        self._client: Redis | RedisCluster | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Create the client (it connects lazily) and start the task that publishes through it."""
        self._client = self._connect()
        self._task = asyncio.create_task(self._run(), name=PUBLISHER_TASK_NAME)

    async def stop(self) -> None:
        """Cancel and await the task; discard what is still queued."""
        task, self._task = self._task, None
        await cancel_task(task)
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
        discard_queued(self.outbox)

    def put(self, topic: str, message: bytes) -> None:
        """Queue a frame and wake the task; warn on the first drop of an episode."""
        queue_frame(self.outbox, topic, message)
        self._wake.set()

    def wake(self) -> None:
        """Look at the outbox again: the link came up."""
        self._wake.set()

    async def _run(self) -> None:
        """Send batches until cancelled, surviving every failure."""
        while True:
            await self._sendable()
            batch = self.outbox.take(BATCH_MAX_FRAMES, BATCH_MAX_BYTES)
            try:
                await self._send(batch)
            except self._link_errors as exc:
                self.outbox.put_back(batch)
                self._on_failure(exc)
            except Exception:
                # Not the link (e.g. an ACL refusing PUBLISH): retrying would not help.
                logger.exception("Publishing to Redis failed; dropping %d frames", len(batch))
                self.outbox.count_dropped(len(batch))
            else:
                self._report_drops()

    async def _sendable(self) -> None:
        """Wait until there is something to send and the link is up."""
        while not (self.outbox and self._link_up()):
            self._wake.clear()
            await self._wake.wait()

    async def _send(self, batch: list[Frame]) -> None:
        """Publish a batch in one pipeline (one round trip per Redis node)."""
        if self._client is None:
            raise RuntimeError("RedisPublisher is not started")
        async with self._client.pipeline(transaction=False) as pipe:
            for topic, message in batch:
                pipe.execute_command(self._command, self._channel(topic), message)
            await pipe.execute()

    def _report_drops(self) -> None:
        """Once the outbox is empty again, say how many frames an episode dropped."""
        if not self.outbox:
            report_drops(self.outbox)
