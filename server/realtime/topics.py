"""Topic and Redis channel names: built here and nowhere else."""

from __future__ import annotations

USER_PREFIX = "user:"
MEETING_PREFIX = "meeting:"


def user_topic(user_id: str) -> str:
    """Name the topic that carries every change to ``user_id``'s resources."""
    return f"{USER_PREFIX}{user_id}"


def meeting_topic(meeting_id: str) -> str:
    """Name the topic that carries a poll's participants and cells."""
    return f"{MEETING_PREFIX}{meeting_id}"


def topic_meeting(topic: str) -> str | None:
    """Return the meeting id of a ``meeting:<id>`` topic, else None."""
    return topic[len(MEETING_PREFIX) :] if topic.startswith(MEETING_PREFIX) else None


def topic_owner(topic: str) -> str | None:
    """Return the user id of a ``user:<id>`` topic, else None."""
    return topic[len(USER_PREFIX) :] if topic.startswith(USER_PREFIX) else None


def is_valid_topic(topic: str) -> bool:
    """Tell whether ``topic`` has a known kind and a non-empty id of sane length."""
    for prefix in (USER_PREFIX, MEETING_PREFIX):
        if topic.startswith(prefix):
            rest = topic[len(prefix) :]
            return 0 < len(rest) <= 255
    return False


def redis_channel(prefix: str, topic: str) -> str:
    """Name the Redis pub/sub channel that carries ``topic``."""
    return f"{prefix}:t:{topic}"


def redis_channel_topic(prefix: str, channel: str) -> str | None:
    """Return the topic a Redis channel carries, or None when it is not ours."""
    head = f"{prefix}:t:"
    return channel[len(head) :] if channel.startswith(head) else None
