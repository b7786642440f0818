"""A WebSocket client on a bare socket: frames built by hand, masked or not, buffers sized."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import socket
import struct
from typing import Any

import orjson

TIMEOUT = 5.0
OP_TEXT, OP_CLOSE, OP_PING = 0x1, 0x8, 0x9


def client_frame(opcode: int, payload: bytes, *, masked: bool = True) -> bytes:
    """Build one final client frame, masked unless told otherwise."""
    size = len(payload)
    mask_bit = 0x80 if masked else 0
    if size < 126:
        header = struct.pack("!BB", 0x80 | opcode, mask_bit | size)
    elif size < 65536:
        header = struct.pack("!BBH", 0x80 | opcode, mask_bit | 126, size)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, mask_bit | 127, size)
    if not masked:
        return header + payload
    key = os.urandom(4)
    body = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return header + key + body


class RawClient:
    """One connection driven byte by byte."""

    def __init__(self, sock: socket.socket, reader: asyncio.StreamReader, writer: Any) -> None:
        self.sock = sock
        self.reader = reader
        self.writer = writer
        self.answered = False  # the client sent its close frame: nothing may follow

    @classmethod
    async def open(cls, port: int, *, rcvbuf: int | None = None, greeted: bool = True) -> RawClient:
        """Connect to the server on ``port`` and upgrade to a WebSocket; read hello
        (unless not ``greeted``)."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            # Before connect, so the window the client advertises stays this small.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
        # A small stream limit: unread frames stay in the kernel, as they would in a client
        # that does not read, instead of piling up in the StreamReader.
        reader, writer = await asyncio.open_connection(sock=sock, limit=1024)
        client = cls(sock, reader, writer)
        await client._upgrade(port)
        if greeted:
            hello = await client.read_json()
            assert hello["type"] == "hello", hello
        return client

    async def _upgrade(self, port: int) -> None:
        key = base64.b64encode(os.urandom(16)).decode()
        self.writer.write(
            (
                f"GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        async with asyncio.timeout(TIMEOUT):
            head = await self.reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head

    @property
    def local_port(self) -> int:
        """Return the client's own port (the server sees it as the peer's)."""
        return int(self.sock.getsockname()[1])

    def send(self, frame: dict[str, Any] | str, *, masked: bool = True) -> None:
        """Send a text frame (a dict is sent as JSON)."""
        data = frame.encode() if isinstance(frame, str) else orjson.dumps(frame)
        self.writer.write(client_frame(OP_TEXT, data, masked=masked))

    def send_bytes(self, data: bytes) -> None:
        """Send bytes as they are: a frame built by hand."""
        self.writer.write(data)

    async def keep_writing(self, text: str, pause: float = 0.02) -> None:
        """Send ``text`` over and over until the socket fails."""
        with contextlib.suppress(ConnectionError):
            while not self.answered:
                self.send(text)
                await self.writer.drain()
                await asyncio.sleep(pause)

    def answer_close(self) -> None:
        """Send a close frame (1000), as a client does on the server's."""
        self.answered = True
        self.writer.write(client_frame(OP_CLOSE, struct.pack("!H", 1000)))

    async def authenticate(self, token: str) -> dict[str, Any]:
        """Send auth and read up to ready; return it."""
        self.send({"type": "auth", "token": token})
        while True:
            frame = await self.read_json()
            if frame["type"] == "ready":
                return frame

    async def read_frame(self) -> tuple[int, bytes]:
        """Read one server frame: its opcode and payload."""
        async with asyncio.timeout(TIMEOUT):
            first, second = await self.reader.readexactly(2)
            size = second & 0x7F
            if size == 126:
                (size,) = struct.unpack("!H", await self.reader.readexactly(2))
            elif size == 127:
                (size,) = struct.unpack("!Q", await self.reader.readexactly(8))
            return first & 0x0F, await self.reader.readexactly(size)

    async def read_json(self) -> dict[str, Any]:
        """Read the next text frame as JSON."""
        opcode, payload = await self.read_frame()
        assert opcode == OP_TEXT, (opcode, payload)
        frame: dict[str, Any] = orjson.loads(payload)
        return frame

    async def close_code(self, timeout: float = TIMEOUT) -> int | None:
        """Read to the server's close frame and answer it; its code (None: the socket just ended)."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    opcode, payload = await self.read_frame()
                    if opcode == OP_CLOSE:
                        self.answer_close()
                        return int(struct.unpack("!H", payload[:2])[0])
        except (asyncio.IncompleteReadError, ConnectionError):
            return None

    async def at_eof(self, timeout: float = TIMEOUT) -> bool:
        """Tell whether the server ends the socket (EOF or reset) within ``timeout`` s."""
        try:
            async with asyncio.timeout(timeout):
                while await self.reader.read(65536):
                    pass
        except ConnectionError:
            return True
        except TimeoutError:
            return False
        return True

    def close(self) -> None:
        """Drop the socket."""
        self.writer.close()

    def reset(self) -> None:
        """Drop the socket with a reset (RST), as a client whose network went does."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()
