"""Publishing to one Redis on a connection of its own, each frame written as it is queued.

The pipeline publisher (``RedisPublisher``) sends a batch and waits for its replies
before the next: a frame queued meanwhile waits a round trip and a turn of the
loop for a task that wakes to send it. Here ``put`` writes the frame to the socket
at once when no reply is owed, else at the next turn of the loop together with
whatever else was queued meanwhile (one write, and one read for Redis, per turn
under load), and the replies are counted as they arrive, in order, on the same
connection; Redis applies the commands in the order written, and the connection
is lean (hiredis parses the replies, no client object per batch).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

import hiredis

from server.realtime.outbox import Frame, Outbox
from server.realtime.redis_publisher import (
    LINK_ERRORS,
    PUBLISHER_TASK_NAME,
    cancel_task,
    discard_queued,
    queue_frame,
    report_drops,
)
from server.realtime.resp import RespLink, open_link, resp_command

logger = logging.getLogger("server.realtime.redis")

# Replies owed at most, by frames and by bytes, before ``put`` leaves frames in the
# outbox (a slow or hung Redis must not grow a second, unbounded queue); never more
# than the outbox itself holds.
INFLIGHT_MAX_FRAMES = 1000
INFLIGHT_MAX_BYTES = 1 << 20
_RETRY_GUARD_S = 0.05


class PublishHungError(TimeoutError):
    """Redis took frames and stopped answering them."""


class StreamingPublisher:
    """Send an outbox's frames to one Redis as they are queued; callers never wait.

    Frames are written only while ``link_up()`` says the backend's link is up, so
    frames queued during an outage go out, oldest first, once the subscriptions
    are back (``wake``). When the connection fails, or owes replies for
    ``timeout_s``, the frames not yet answered go back to the head of the outbox
    (a hub drops a repeat by its seq) and ``on_failure`` is told, so the backend
    reconnects. The same interface as ``RedisPublisher``.
    """

    def __init__(
        self,
        outbox: Outbox,
        channel: Callable[[str], str],
        *,
        url: str,
        client_name: str,
        timeout_s: float,
        link_up: Callable[[], bool],
        on_failure: Callable[[BaseException], None],
        command: str = "PUBLISH",
    ) -> None:
        self.outbox = outbox
        self._channel = channel
        self._url = url
        self._client_name = client_name
        self._timeout_s = timeout_s
        self._link_up = link_up
        self._on_failure = on_failure
        self._command = command.encode()
        self._max_owed = min(INFLIGHT_MAX_FRAMES, outbox.max_frames)
        self._max_owed_bytes = min(INFLIGHT_MAX_BYTES, outbox.max_bytes)
        self._link: RespLink | None = None
        self._owed: deque[Frame] = deque()  # the frames written and not yet answered, in order
        self._owed_bytes = 0
        self._progress = 0.0  # loop time of the last reply, or of the first owed frame
        self._refusing = False  # Redis refuses PUBLISH (an ACL): logged once per episode
        self._flush: asyncio.Handle | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the task that keeps the connection."""
        self._task = asyncio.create_task(self._run(), name=PUBLISHER_TASK_NAME)

    async def stop(self) -> None:
        """Cancel the task, close the connection; discard what is still queued."""
        task, self._task = self._task, None
        await cancel_task(task)
        self._close()
        discard_queued(self.outbox)

    def put(self, topic: str, message: bytes) -> None:
        """Queue a frame and write it (at once when idle, else at the next turn of the
        loop) if the link allows; warn on the first drop."""
        queue_frame(self.outbox, topic, message)
        if self._link is None:
            self._wake.set()
        elif not self._owed:
            self._write_queued()
        elif self._flush is None:
            self._flush = asyncio.get_running_loop().call_soon(self._write_queued)

    def wake(self) -> None:
        """Look at the outbox again: the link came up."""
        self._wake.set()
        self._write_queued()

    # -- the connection

    async def _run(self) -> None:
        """Connect whenever the link is up, and watch the connection until it fails."""
        while True:
            while not (self.outbox and self._link_up()):  # connect on the first frame
                self._wake.clear()
                await self._wake.wait()
            try:
                async with asyncio.timeout(self._timeout_s):
                    link = await self._connect()
                self._write_queued()
                await self._watch(link)
                self._close()
            except LINK_ERRORS as exc:
                self._fail(exc)
            except Exception as exc:
                logger.error("The Redis publish connection failed", exc_info=exc)
                self._fail(exc)
            await asyncio.sleep(_RETRY_GUARD_S)  # the backend's own back-off paces reconnects

    async def _connect(self) -> RespLink:
        """Open the connection; from now on frames are written to it."""
        link = await open_link(self._url, self._client_name)
        link.on_reply = self._on_reply
        self._link = link
        return link

    async def _watch(self, link: RespLink) -> None:
        """Return when the connection ends owing no reply (Redis closed it while idle:
        the next frame opens another); raise when it ends owing replies, or owes one
        for longer than ``timeout_s``."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.wait([link.lost], timeout=self._timeout_s / 2)
            if link.lost.done():
                if self._owed:
                    raise link.lost.result()
                return
            if self._owed and loop.time() - self._progress > self._timeout_s:
                raise PublishHungError(f"no reply to PUBLISH within {self._timeout_s:g} s")

    def _write_queued(self) -> None:
        """Write what the outbox holds, within the replies that may be owed."""
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        link = self._link
        if link is None or not self.outbox or not self._link_up():
            return
        room = self._max_owed - len(self._owed)
        if room <= 0 or self._owed_bytes >= self._max_owed_bytes:
            return
        batch = self.outbox.take(room, self._max_owed_bytes - self._owed_bytes)
        if not self._owed:
            self._progress = asyncio.get_running_loop().time()
        command, channel = self._command, self._channel
        link.write(b"".join(resp_command(command, channel(t).encode(), m) for t, m in batch))
        self._owed.extend(batch)
        self._owed_bytes += sum(len(message) for _, message in batch)
        if not self.outbox and self.outbox.dropped:  # drained: the episode is over
            report_drops(self.outbox)

    def _on_reply(self, link: RespLink, reply: Any) -> None:
        """Settle the oldest owed reply."""
        if link is not self._link or not self._owed:
            return  # a reply on a connection already given up
        _, message = self._owed.popleft()
        self._progress = asyncio.get_running_loop().time()
        self._owed_bytes -= len(message)
        if isinstance(reply, hiredis.ReplyError):
            self._refused(reply)
        else:
            self._refusing = False
        if self.outbox:
            self._write_queued()

    def _refused(self, reply: hiredis.ReplyError) -> None:
        """Drop a frame Redis refused (retrying would not help); log the first of a run."""
        self.outbox.count_dropped(1)
        if not self._refusing:
            logger.error("Redis refused a publish, dropping it (and any refused after): %s", reply)
        self._refusing = True

    def _fail(self, exc: BaseException) -> None:
        """Give the connection up: unanswered frames back to the outbox, the backend told."""
        frames = self._close()
        self.outbox.put_back(frames)
        self._on_failure(exc)

    def _close(self) -> list[Frame]:
        """Close the connection; return the frames it owed replies for, in order."""
        link, self._link = self._link, None
        if link is not None:
            link.close()
        frames = list(self._owed)
        self._owed.clear()
        self._owed_bytes = 0
        return frames
