"""Who may subscribe to a topic and receive its events (the visibility hook)."""

from __future__ import annotations

from typing import Any

from server.realtime.topics import topic_owner


def can_subscribe(user_id: str, topic: str) -> bool:
    """Tell whether ``user_id`` may subscribe to ``topic``.

    Until friendships exist, a user's topic is open to that user alone; meeting
    topics open with meetings.
    """
    return topic_owner(topic) == user_id


def can_receive(user_id: str, topic: str, event: dict[str, Any]) -> bool:
    """Tell whether one event of a subscribed topic reaches ``user_id``."""
    return topic_owner(topic) == user_id
