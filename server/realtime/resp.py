"""A lean connection to one Redis: RESP written as bytes, replies parsed by hiredis.

For the fan-out's two hot paths (publishing, reading pub/sub messages), where
redis-py's layers per command and per message cost more than the work itself.
It serves ``redis://`` URLs (TCP, optional user, password and database).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any

import hiredis
import redis.exceptions
from redis.asyncio.connection import parse_url

ReplyHandler = Callable[["RespLink", Any], None]


def serves(url: str) -> bool:
    """Tell whether ``url`` is one a lean connection serves: plain TCP (``redis://``)."""
    return url.startswith("redis://")


def resp_command(*args: bytes) -> bytes:
    """Encode one command in RESP (an array of bulk strings)."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        parts.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(parts)


class RespLink(asyncio.Protocol):
    """A RESP connection handing each reply, in order, to ``on_reply``; ``lost`` is
    resolved with the reason it failed (or ended)."""

    def __init__(self, on_reply: ReplyHandler) -> None:
        self.on_reply = on_reply
        self._reader = hiredis.Reader()
        self.transport: asyncio.Transport | None = None
        self.lost: asyncio.Future[BaseException] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no asyncio.Transport

    def data_received(self, data: bytes) -> None:
        self._reader.feed(data)
        try:
            while (reply := self._reader.gets()) is not False:
                self.on_reply(self, reply)
        except hiredis.ProtocolError as exc:
            self._fail(redis.exceptions.ConnectionError(f"bad reply from Redis: {exc}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(exc or redis.exceptions.ConnectionError("Connection closed by server."))

    def _fail(self, exc: BaseException) -> None:
        if not self.lost.done():
            self.lost.set_result(exc)

    def write(self, data: bytes) -> None:
        """Send ``data`` (whole commands)."""
        if self.transport is not None:
            self.transport.write(data)

    def close(self) -> None:
        """Drop the connection at once."""
        if self.transport is not None:
            self.transport.abort()


async def open_link(url: str, client_name: str) -> RespLink:
    """Connect to the Redis of ``url`` and say who we are (AUTH and SELECT as the URL
    asks, CLIENT SETNAME ``client_name``); set ``on_reply`` of the link returned."""
    address = parse_url(url)
    loop = asyncio.get_running_loop()
    waiting: deque[asyncio.Future[Any]] = deque()

    def answer(_link: RespLink, reply: Any) -> None:
        if waiting:
            waiting.popleft().set_result(reply)

    host, port = address.get("host", "localhost"), address.get("port", 6379)
    try:
        _, link = await loop.create_connection(lambda: RespLink(answer), host, port)
    except OSError as exc:  # named as redis-py names it, for the readiness reason
        raise redis.exceptions.ConnectionError(f"Error connecting to {host}:{port}: {exc}") from exc
    hello: list[tuple[bytes, ...]] = [(b"CLIENT", b"SETNAME", client_name.encode())]
    if password := address.get("password"):
        user = (username.encode(),) if (username := address.get("username")) else ()
        hello.insert(0, (b"AUTH", *user, password.encode()))
    if db := address.get("db"):
        hello.append((b"SELECT", str(db).encode()))
    replies = [loop.create_future() for _ in hello]
    waiting.extend(replies)
    link.write(b"".join(resp_command(*command) for command in hello))
    try:
        for command, reply in zip(hello, replies, strict=True):
            await asyncio.wait([reply, link.lost], return_when=asyncio.FIRST_COMPLETED)
            if link.lost.done():
                raise link.lost.result()
            if isinstance(result := reply.result(), hiredis.ReplyError):
                name = command[0].decode()
                raise redis.exceptions.ConnectionError(f"Redis refused {name}: {result}")
    except BaseException:
        link.close()
        raise
    return link
