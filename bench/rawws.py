"""A lean WebSocket client for connect benchmarks: thousands of sockets on one core.

aiohttp's client costs more CPU per connect than the server under test; this one
does the handshake, reads unfragmented server frames, answers pings and sends
text frames with a zero mask, and nothing else.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import socket
import struct
from collections.abc import Awaitable, Callable
from typing import TypeVar

import orjson

T = TypeVar("T")

OP_TEXT = 0x1
OP_CLOSE = 0x8
OP_PING = 0x9
KEY = base64.b64encode(os.urandom(16)).decode()


class RawSocket(asyncio.Protocol):
    """One client socket to ``/v1/ws``; every text frame goes to ``on_frame`` as a dict."""

    def __init__(self, port: int, on_frame: Callable[[RawSocket, dict], None]) -> None:
        self.request = (
            f"GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
        self.on_frame = on_frame
        self.buf = bytearray()
        self.upgraded = False
        self.transport: asyncio.Transport | None = None
        self.close_code: int | None = None
        self.frame_size = 0  # the bytes of the text frame ``on_frame`` is given
        self.lost = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Send the upgrade request."""
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no asyncio.Transport
        transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        """Tell whoever waits on ``lost``."""
        if not self.lost.done():
            self.lost.set_result(self.close_code)

    def data_received(self, data: bytes) -> None:
        """Parse the upgrade answer, then frames."""
        self.buf += data
        if not self.upgraded and not self._upgrade():
            return
        self._frames()

    def _upgrade(self) -> bool:
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return False
        status = bytes(self.buf[: self.buf.find(b"\r\n")])
        del self.buf[: end + 4]
        if b" 101 " not in status:
            self.close_code = -1  # refused before the upgrade (an HTTP error)
            self.abort()
            return False
        self.upgraded = True
        return True

    def _frames(self) -> None:
        buf, pos = self.buf, 0
        while len(buf) - pos >= 2:
            length, head = buf[pos + 1] & 0x7F, 2
            if length == 126:
                length, head = int.from_bytes(buf[pos + 2 : pos + 4], "big"), 4
            elif length == 127:
                length, head = int.from_bytes(buf[pos + 2 : pos + 10], "big"), 10
            if len(buf) - pos < head + length:
                break
            opcode, payload = buf[pos] & 0x0F, bytes(buf[pos + head : pos + head + length])
            pos += head + length
            self._frame(opcode, payload)
        del buf[:pos]

    def _frame(self, opcode: int, payload: bytes) -> None:
        if opcode == OP_TEXT:
            self.frame_size = len(payload)
            self.on_frame(self, orjson.loads(payload))
        elif opcode == OP_PING:
            self._send(0x8A, payload)
        elif opcode == OP_CLOSE:
            self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
            self.abort()

    def _send(self, first: int, payload: bytes) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        n = len(payload)
        head = bytes((first, 0x80 | n)) if n < 126 else bytes((first, 0xFE)) + n.to_bytes(2, "big")
        self.transport.write(head + b"\0\0\0\0" + payload)

    def send(self, frame: dict) -> None:
        """Send one JSON text frame."""
        self._send(0x81, orjson.dumps(frame))

    def abort(self) -> None:
        """Drop the socket with a reset (no TIME_WAIT left behind between runs)."""
        if self.transport is None:
            return
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError, ValueError):  # the peer closed it already
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abort()


async def open_socket(port: int, on_frame: Callable[[RawSocket, dict], None]) -> RawSocket:
    """Open a TCP connection to the server and start the upgrade."""
    loop = asyncio.get_running_loop()
    _, proto = await loop.create_connection(lambda: RawSocket(port, on_frame), "127.0.0.1", port)
    return proto


class TurnedAwayError(ConnectionError):
    """The server's admission asked this client to come back after ``retry_after_ms``."""

    def __init__(self, retry_after_ms: int) -> None:
        super().__init__(f"turned away, retry after {retry_after_ms} ms")
        self.retry_after_ms = retry_after_ms


async def until_admitted(connect: Callable[[], Awaitable[T]], attempts: int = 20) -> T:
    """Run ``connect`` until admission lets it in: a client turned away waits the
    ``retry_after_ms`` it was told, as the client module does, up to ``attempts`` times."""
    for _ in range(attempts - 1):
        try:
            return await connect()
        except TurnedAwayError as exc:
            await asyncio.sleep(exc.retry_after_ms / 1000)
    return await connect()


async def authenticate(
    port: int, token: str, on_frame: Callable[[RawSocket, dict], None]
) -> tuple[RawSocket, dict]:
    """Open a socket, answer hello with ``auth``; return it with its ready frame.

    Frames after ready go to ``on_frame``; events before it (a replay) are skipped.
    """
    return await until_admitted(lambda: _authenticate_once(port, token, on_frame))


async def _authenticate_once(
    port: int, token: str, on_frame: Callable[[RawSocket, dict], None]
) -> tuple[RawSocket, dict]:
    ready: asyncio.Future[dict] = asyncio.get_running_loop().create_future()

    def handshake(sock: RawSocket, frame: dict) -> None:
        kind = frame.get("type")
        if kind == "hello":
            sock.send({"type": "auth", "token": token})
        elif kind == "ready":
            sock.on_frame = on_frame
            ready.set_result(frame)
        elif kind != "event" and not ready.done():
            ready.set_exception(refusal(frame))

    sock = await open_socket(port, handshake)
    try:
        return sock, await asyncio.wait_for(ready, 30)
    except TurnedAwayError:
        sock.abort()
        raise


def refusal(frame: dict) -> ConnectionError:
    """Return the error a frame other than ready means (``TurnedAwayError`` for admission's)."""
    error = frame.get("error") or {}
    retry_after = (error.get("details") or {}).get("retry_after_ms")
    if error.get("code") == "unavailable" and retry_after is not None:
        return TurnedAwayError(int(retry_after))
    return ConnectionError(f"expected ready, got {frame}")
