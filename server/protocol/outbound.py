"""One writer task and a bounded queue per connection."""

from __future__ import annotations

import asyncio
from collections import deque

from aiohttp import WSMsgType, web


class Outbound:
    """Frames waiting for the socket, bounded in count and bytes.

    ``push`` never waits: fan-out must not block on one slow client, so a full
    queue is reported and the connection is closed (4409) instead of growing.
    ``put`` waits for room: replay and replies come from the client's own
    request and may pace themselves.
    """

    def __init__(self, ws: web.WebSocketResponse, max_frames: int, max_bytes: int) -> None:
        self.ws = ws
        self.max_frames = max_frames
        self.max_bytes = max_bytes
        self._frames: deque[bytes] = deque()
        self._bytes = 0
        self._ready = asyncio.Event()
        self._room = asyncio.Event()
        self.failed = False

    def push(self, frame: bytes) -> bool:
        """Queue a frame; False when the queue is full."""
        if len(self._frames) >= self.max_frames or self._bytes + len(frame) > self.max_bytes:
            return False
        self._frames.append(frame)
        self._bytes += len(frame)
        self._ready.set()
        return True

    async def put(self, frame: bytes, timeout: float) -> bool:
        """Queue a frame, waiting up to ``timeout`` s for room; False on time-out."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self.push(frame):
            if self.failed:
                return False
            if not self._frames:
                self._force(frame)
                return True
            self._room.clear()
            try:
                await asyncio.wait_for(self._room.wait(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                return False
        return True

    def _force(self, frame: bytes) -> None:
        # A single frame larger than the byte budget still goes out on an empty queue.
        self._frames.append(frame)
        self._bytes += len(frame)
        self._ready.set()

    def pending(self) -> int:
        """Return the number of frames waiting."""
        return len(self._frames)

    async def run(self) -> None:
        """Write queued frames to the socket until cancelled or the socket fails."""
        try:
            while True:
                await self._ready.wait()
                while self._frames:
                    frame = self._frames.popleft()
                    self._bytes -= len(frame)
                    self._room.set()
                    await self.ws.send_frame(frame, WSMsgType.TEXT)
                self._ready.clear()
        except (ConnectionError, RuntimeError):
            self.failed = True
            self._room.set()

    async def drain(self, timeout: float) -> None:
        """Wait up to ``timeout`` s for the queue to empty."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._frames and not self.failed and loop.time() < deadline:
            self._room.clear()
            try:
                await asyncio.wait_for(self._room.wait(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                return
