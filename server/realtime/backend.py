"""The fan-out backend interface: carries news between server instances."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

# Called with (topic, message) for every message on a subscribed topic.
MessageHandler = Callable[[str, bytes], None]
# Called after the backend lost its upstream link and re-established it; the hub
# then catches up from the event log because messages may have been missed.
ReconnectHandler = Callable[[], Awaitable[None]]


class FanoutBackend(Protocol):
    """Publish bytes to a topic; deliver every subscribed topic's messages to one handler.

    Delivery is at-most-once and in publish order per publisher; the event log in
    the database is the truth, so a lost message only delays delivery. That is why
    ``publish`` may drop a message rather than make its caller (a command's reply,
    after commit) wait for the network.
    """

    async def start(self, on_message: MessageHandler, on_reconnect: ReconnectHandler) -> None:
        """Connect and start delivering messages to ``on_message``."""

    async def stop(self) -> None:
        """Stop delivering, close connections and await every background task."""

    async def publish(self, topic: str, message: bytes) -> None:
        """Send ``message`` to every instance subscribed to ``topic``, without waiting on I/O."""

    async def subscribe(self, topic: str) -> None:
        """Start receiving ``topic``; returns once the subscription is active upstream."""

    async def unsubscribe(self, topic: str) -> None:
        """Stop receiving ``topic``."""

    def healthy(self) -> bool:
        """Tell whether the upstream link is currently up."""

    def problem(self) -> str | None:
        """Say why the upstream link is not up, or None while it is."""
