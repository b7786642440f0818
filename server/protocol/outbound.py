"""Frames to one client: written straight to the socket, with a bounded backlog."""

from __future__ import annotations

import asyncio
from collections import deque

# Frames go straight to the transport while its buffer holds less than this; beyond
# it they wait in the backlog, whose bounds decide when a client is too slow.
TRANSPORT_SOFT_LIMIT = 64 * 1024
# While backlogged, how often the drainer looks at the transport again.
DRAIN_POLL_S = 0.005


class Outbound:
    """Write framed bytes to the transport, or queue them behind a slow socket.

    Writing synchronously saves a writer task per connection and a wake-up per
    frame; each write is a whole frame, so aiohttp's own control frames (ping,
    pong, close) interleave safely. ``push`` never waits: fan-out must not block
    on one client, so a full backlog is reported and the connection closed (4409).
    ``put`` waits for room: replies and replays come from the client's own requests.
    """

    def __init__(self, transport: asyncio.WriteTransport, max_frames: int, max_bytes: int):
        self.transport = transport
        self.max_frames = max_frames
        self.max_bytes = max_bytes
        self._backlog: deque[bytes] = deque()
        self._bytes = 0
        self._drainer: asyncio.Task[None] | None = None
        self._room: asyncio.Event | None = None  # made when a writer first waits for room
        self._stopped = False

    @property
    def failed(self) -> bool:
        """Tell whether the socket is gone or the connection closing."""
        return self._stopped or self.transport.is_closing()

    def push(self, wire: bytes) -> bool:
        """Send or queue a framed message; False when the backlog is full or the socket gone."""
        if self.failed:
            return False
        if not self._backlog and self.transport.get_write_buffer_size() < TRANSPORT_SOFT_LIMIT:
            self.transport.write(wire)
            return True
        # An empty backlog takes any one frame, so a reply larger than the byte
        # budget still goes out behind a busy socket.
        full = len(self._backlog) >= self.max_frames or self._bytes + len(wire) > self.max_bytes
        if self._backlog and full:
            return False
        self._backlog.append(wire)
        self._bytes += len(wire)
        if self._drainer is None:
            self._drainer = asyncio.create_task(self._drain_backlog(), name="outbound-drain")
        return True

    async def put(self, wire: bytes, timeout: float) -> bool:
        """Send or queue a framed message, waiting up to ``timeout`` s for room."""
        if self.push(wire):  # the common case: room at once, no timer to arm
            return True
        try:
            async with asyncio.timeout(timeout):
                while not self.failed:
                    self._room = self._room or asyncio.Event()
                    self._room.clear()
                    await self._room.wait()
                    if self.push(wire):
                        return True
        except TimeoutError:
            pass
        return False

    async def drain(self, timeout: float) -> None:
        """Wait up to ``timeout`` s for the backlog to reach the transport."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._backlog and not self.failed and loop.time() < deadline:  # noqa: ASYNC110 - polls the transport, which has no event
            await asyncio.sleep(DRAIN_POLL_S)

    def stop(self) -> None:
        """Take no more frames: cancel the drainer, drop the backlog, wake waiting writers."""
        self._stopped = True
        if self._drainer is not None:
            self._drainer.cancel()
        self._backlog.clear()
        self._bytes = 0
        self._wake_writers()

    async def _drain_backlog(self) -> None:
        try:
            while self._backlog and not self.failed:
                if self.transport.get_write_buffer_size() >= TRANSPORT_SOFT_LIMIT:
                    await asyncio.sleep(DRAIN_POLL_S)
                    continue
                wire = self._backlog.popleft()
                self._bytes -= len(wire)
                self.transport.write(wire)
                self._wake_writers()
        finally:
            self._drainer = None
            self._wake_writers()

    def _wake_writers(self) -> None:
        """Tell writers waiting in ``put`` to look for room again."""
        if self._room is not None:
            self._room.set()
