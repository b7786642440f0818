"""A test device: a real WebSocket client speaking the protocol."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient

TIMEOUT = 5.0


class Device:
    """One client connection; events and results are kept apart."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.hello: dict[str, Any] = {}
        self.ready: dict[str, Any] = {}
        self.events: list[dict[str, Any]] = []
        self.replayed: list[dict[str, Any]] = []
        self.ticks: list[dict[str, Any]] = []
        self.other: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self._results: dict[Any, dict[str, Any]] = {}

    @classmethod
    async def open(cls, client: TestClient[Any, Any]) -> Device:
        """Open a socket and read hello, without authenticating."""
        dev = cls(await client.ws_connect("/v1/ws", autoping=True))
        dev.hello = await dev.receive()
        assert dev.hello["type"] == "hello", dev.hello
        return dev

    @classmethod
    async def connect(cls, client: TestClient[Any, Any], token: str, **auth: Any) -> Device:
        """Open, authenticate and wait for ready (collecting replayed events)."""
        dev = await cls.open(client)
        await dev.ws.send_json({"type": "auth", "token": token, **auth})
        while True:
            frame = await dev.receive()
            if frame["type"] == "ready":
                dev.ready = frame
                return dev
            if frame["type"] != "event":
                raise AssertionError(f"expected ready, got {frame}")
            dev.replayed.append(frame)

    async def receive(self, timeout: float = TIMEOUT) -> dict[str, Any]:
        """Read one JSON frame."""
        # asyncio.timeout, not receive(timeout=): aiohttp's own time-out leaves the
        # client unable to read again.
        async with asyncio.timeout(timeout):
            msg = await self.ws.receive()
        if msg.type != aiohttp.WSMsgType.TEXT:
            raise ConnectionError(f"socket ended: {msg.type} {msg.data!r} {msg.extra!r}")
        frame: dict[str, Any] = msg.json()
        return frame

    async def pump(self, timeout: float = TIMEOUT) -> dict[str, Any]:
        """Read one frame and file it; return it."""
        frame = await self.receive(timeout)
        kind = frame.get("type")
        if kind == "result":
            self._results[frame["id"]] = frame
        elif kind == "event":
            self.events.append(frame)
        elif kind == "tick":
            self.ticks.append(frame)
        else:
            self.other.append(frame)
        return frame

    async def send(
        self, type_: str, data: Any = None, *, op_id: str | None = None, **extra: Any
    ) -> Any:
        """Send a command; return its id."""
        cid = next(self._ids)
        frame: dict[str, Any] = {"id": cid, "type": type_, **extra}
        if data is not None:
            frame["data"] = data
        if op_id is not None:
            frame["op_id"] = op_id
        await self.ws.send_json(frame)
        return cid

    async def result(self, cid: Any, timeout: float = TIMEOUT) -> dict[str, Any]:
        """Wait for the result of command ``cid``."""
        async with asyncio.timeout(timeout):
            while cid not in self._results:
                await self.pump()
        return self._results.pop(cid)

    async def call(self, type_: str, data: Any = None, **kwargs: Any) -> dict[str, Any]:
        """Send a command and return its whole result frame."""
        return await self.result(await self.send(type_, data, **kwargs))

    async def ok(self, type_: str, data: Any = None, **kwargs: Any) -> Any:
        """Send a command that must succeed; return its data."""
        frame = await self.call(type_, data, **kwargs)
        assert frame["ok"] is True, frame
        return frame["data"]

    async def error(self, type_: str, data: Any = None, **kwargs: Any) -> dict[str, Any]:
        """Send a command that must fail; return its error object."""
        frame = await self.call(type_, data, **kwargs)
        assert frame["ok"] is False, frame
        return dict(frame["error"])

    async def wait_events(self, count: int, timeout: float = TIMEOUT) -> list[dict[str, Any]]:
        """Wait until at least ``count`` events arrived; return them all."""
        async with asyncio.timeout(timeout):
            while len(self.events) < count:
                await self.pump()
        return self.events

    async def wait_close(self, timeout: float = TIMEOUT) -> int | None:
        """Read until the server closes; return the close code."""
        async with asyncio.timeout(timeout):
            while True:
                msg = await self.ws.receive()
                if msg.type in (
                    aiohttp.WSMsgType.CLOSE,
                    aiohttp.WSMsgType.CLOSED,
                    aiohttp.WSMsgType.CLOSING,
                ):
                    return self.ws.close_code
                if msg.type == aiohttp.WSMsgType.ERROR:
                    return self.ws.close_code

    async def close(self) -> None:
        """Close the socket."""
        await self.ws.close()


def new_op() -> str:
    """Return a fresh op_id."""
    return str(uuid.uuid4())
