"""The pub/sub connection of one Redis node, as the Redis backend reads it.

``PubSubLink`` speaks RESP itself on a lean connection (``resp.py``): each batch
of bytes Redis sends is parsed at once into messages, which ``get_message``
hands out without suspending while any are left. ``ClientPubSub`` is the same
interface on redis-py's ``PubSub``, for URLs the lean connection does not serve
(``rediss://``, ``unix://``).
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any, Protocol

import hiredis
import redis.exceptions
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from server.realtime.resp import RespLink, open_link, resp_command, serves

Message = dict[str, Any]  # type (str), channel (bytes), data, as redis-py's PubSub has them


class NodePubSub(Protocol):
    """What the backend does with a node's pub/sub connection."""

    async def connect(self) -> None: ...
    async def send(self, command: str, channels: list[str]) -> None: ...
    async def get_message(self) -> Message | None: ...
    async def ping(self) -> None: ...
    async def aclose(self) -> None: ...


def open_pubsub(url: str, client_name: str, options: dict[str, Any]) -> NodePubSub:
    """Return the (not yet connected) pub/sub connection to the node of ``url``."""
    if serves(url):
        return PubSubLink(url, client_name)
    return ClientPubSub(url, options)


class PubSubLink:
    """A node's pub/sub connection on a lean RESP link."""

    def __init__(self, url: str, client_name: str) -> None:
        self._url = url
        self._client_name = client_name
        self._link: RespLink | None = None
        self._messages: deque[Message] = deque()
        self._arrived: asyncio.Future[None] | None = None

    async def connect(self) -> None:
        """Open the connection."""
        self._link = await open_link(self._url, self._client_name)
        self._link.on_reply = self._take

    async def send(self, command: str, channels: list[str]) -> None:
        """Send ``command`` (SUBSCRIBE, UNSUBSCRIBE, SSUBSCRIBE, ...) for ``channels``."""
        self._live().write(resp_command(command.encode(), *(c.encode() for c in channels)))

    async def get_message(self) -> Message | None:
        """Return the next message, waiting for one; raise when the connection is lost."""
        while not self._messages:
            link = self._live()
            self._arrived = asyncio.get_running_loop().create_future()
            either: list[asyncio.Future[Any]] = [self._arrived, link.lost]
            await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        return self._messages.popleft()

    async def ping(self) -> None:
        """Ask Redis for a sign of life (a ``pong`` message)."""
        self._live().write(resp_command(b"PING"))

    async def aclose(self) -> None:
        """Close the connection."""
        link, self._link = self._link, None
        if link is not None:
            link.close()

    def _live(self) -> RespLink:
        """Return the link; raise why it is gone, if it is."""
        link = self._link
        if link is None:
            raise redis.exceptions.ConnectionError("the pub/sub connection is closed")
        if link.lost.done():
            raise link.lost.result()
        return link

    def _take(self, _link: RespLink, reply: Any) -> None:
        """File one push message (a reply to PING when nothing is subscribed is a pong)."""
        if isinstance(reply, list) and reply:
            kind = reply[0].decode()
            channel = reply[1] if len(reply) > 1 else None
            data = reply[2] if len(reply) > 2 else None
            self._messages.append({"type": kind, "channel": channel, "data": data})
        elif isinstance(reply, hiredis.ReplyError):  # a refused SUBSCRIBE: give the link up
            self._fail(redis.exceptions.ResponseError(str(reply)))
            return
        else:
            self._messages.append({"type": "pong", "channel": None, "data": reply})
        if self._arrived is not None and not self._arrived.done():
            self._arrived.set_result(None)

    def _fail(self, exc: BaseException) -> None:
        link = self._link
        if link is not None and not link.lost.done():
            link.lost.set_result(exc)
            link.close()


class ClientPubSub:
    """A node's pub/sub connection through redis-py (``rediss://``, ``unix://``)."""

    def __init__(self, url: str, options: dict[str, Any]) -> None:
        # The backend owns resubscribing: redis-py reconnecting a pubsub on its own
        # would hide the outage, and with it the messages the hub must catch up.
        self._client = Redis.from_url(url, retry=Retry(NoBackoff(), 0), **options)
        self._pubsub = self._client.pubsub()

    async def connect(self) -> None:
        """Open the connection."""
        await self._pubsub.connect()

    async def send(self, command: str, channels: list[str]) -> None:
        """Send ``command`` (SUBSCRIBE, UNSUBSCRIBE, SSUBSCRIBE, ...) for ``channels``."""
        await getattr(self._pubsub, command.lower())(*channels)

    async def get_message(self) -> Message | None:
        """Return the next message, waiting for one (None: nothing for us in what came)."""
        message: Message | None = await self._pubsub.get_message(timeout=None)
        return message

    async def ping(self) -> None:
        """Ask Redis for a sign of life."""
        await self._pubsub.ping()

    async def aclose(self) -> None:
        """Close the connection and its client."""
        await self._pubsub.aclose()
        await self._client.aclose()
