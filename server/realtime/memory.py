"""In-process fan-out: the embedded default, one server instance."""

from __future__ import annotations

from server.realtime.backend import MessageHandler, ReconnectHandler


class InProcessBackend:
    """Deliver published messages to this process's own subscriptions."""

    def __init__(self) -> None:
        self._on_message: MessageHandler | None = None
        self._topics: set[str] = set()

    async def start(self, on_message: MessageHandler, on_reconnect: ReconnectHandler) -> None:
        """Remember the handler; there is no upstream link to lose."""
        self._on_message = on_message

    async def stop(self) -> None:
        """Drop the handler and every subscription."""
        self._on_message = None
        self._topics.clear()

    async def publish(self, topic: str, message: bytes) -> None:
        """Hand the message to the handler when the topic is subscribed."""
        if self._on_message is not None and topic in self._topics:
            self._on_message(topic, message)

    async def subscribe(self, topic: str) -> None:
        """Start delivering ``topic``."""
        self._topics.add(topic)

    async def unsubscribe(self, topic: str) -> None:
        """Stop delivering ``topic``."""
        self._topics.discard(topic)

    def healthy(self) -> bool:
        """Report the in-process link as always up."""
        return True

    def problem(self) -> str | None:
        """Report nothing wrong: there is no upstream link."""
        return None
