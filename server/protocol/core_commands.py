"""Protocol-level commands: ping, auth.refresh, subscribe, unsubscribe, ticks."""

from __future__ import annotations

from typing import Any

from schema.commands.core import (
    AuthRefresh,
    Ping,
    Subscribe,
    TicksSubscribe,
    TicksUnsubscribe,
    Unsubscribe,
)
from schema.errors import ErrorCode
from server.auth.errors import AuthError
from server.clock import iso_ms, now_ms
from server.domain.access import admit
from server.domain.context import Who
from server.domain.registry import CommandRegistry
from server.domain.timers.reads import active_timer_views
from server.domain.visibility.ticks import visible_running_timers
from server.errors import ApiError
from server.protocol.connection import Connection
from server.realtime.topics import is_valid_topic, topic_owner, user_topic


async def handle_ping(conn: Connection, cmd: Ping) -> Any:
    """Answer with the server's time."""
    return {"server_time": iso_ms(now_ms())}


async def handle_auth_refresh(conn: Connection, cmd: AuthRefresh) -> Any:
    """Swap in a new token of the same user."""
    try:
        identity = await conn.state.verifier.verify(cmd.data.token)
    except AuthError as exc:
        raise ApiError(ErrorCode.UNAUTHORIZED, str(exc)) from None
    if identity.sub != conn.user_id:
        raise ApiError(ErrorCode.FORBIDDEN, "the new token is for another user")
    conn.set_expiry(identity.expires_at)
    return {"expires_at": iso_ms(int(identity.expires_at * 1000))}


async def handle_subscribe(conn: Connection, cmd: Subscribe) -> Any:
    """Subscribe to a topic the caller may see, replaying from ``since``."""
    topic = cmd.data.topic
    if not is_valid_topic(topic):
        raise ApiError(ErrorCode.VALIDATION_ERROR, f"unknown topic {topic!r}", {"topic": topic})
    if topic in conn.cursors:
        # Already streaming: replaying again would deliver events twice.
        return {"topic": topic, "seq": conn.cursors[topic], "replayed": 0, "reset": False}
    admission = await admit(conn.services, Who.of(conn), topic, cmd.data.since)
    if admission is None:
        raise ApiError(ErrorCode.NOT_FOUND, f"topic {topic} does not exist", {"topic": topic})
    result = await conn.join(topic, admission.since, cmd.data.epoch, reset=admission.reset)
    await conn.show_presence(topic)
    owner = topic_owner(topic)
    if conn.tick_interval is not None and owner is not None and topic in conn.cursors:
        running = await visible_running_timers(conn.services, conn.user_id, [owner])
        conn.seed_ticks(running, more=True)
    return {"topic": topic, "seq": result.seq, "replayed": result.replayed, "reset": result.reset}


async def handle_unsubscribe(conn: Connection, cmd: Unsubscribe) -> Any:
    """Leave a topic (never the caller's own)."""
    topic = cmd.data.topic
    if topic == user_topic(conn.user_id):
        raise ApiError(
            ErrorCode.VALIDATION_ERROR, "the own user topic cannot be left", {"topic": topic}
        )
    if topic not in conn.cursors:
        raise ApiError(ErrorCode.NOT_FOUND, f"not subscribed to {topic}", {"topic": topic})
    await conn.leave(topic)
    conn.forget_ticks_of(topic_owner(topic))
    return {"topic": topic}


async def handle_ticks_subscribe(conn: Connection, cmd: TicksSubscribe) -> Any:
    """Start tick frames for the running timers this connection may see."""
    active = await active_timer_views(conn.services, conn.user_id)
    owners = [topic_owner(topic) for topic in conn.cursors]
    others = [owner for owner in owners if owner is not None and owner != conn.user_id]
    friends = await visible_running_timers(conn.services, conn.user_id, others)
    conn.tick_interval = cmd.data.interval_ms
    conn.seed_ticks([*active["items"], *friends])
    conn.state.ticker.add(conn, cmd.data.interval_ms)
    return {"interval_ms": cmd.data.interval_ms}


async def handle_ticks_unsubscribe(conn: Connection, cmd: TicksUnsubscribe) -> Any:
    """Stop tick frames."""
    conn.state.ticker.remove(conn)
    conn.tick_interval = None
    conn.tick_timers = {}
    return {"interval_ms": None}


def register(registry: CommandRegistry) -> None:
    """Register the protocol-level commands."""
    registry.add(Ping, handle_ping)
    registry.add(AuthRefresh, handle_auth_refresh)
    registry.add(Subscribe, handle_subscribe)
    registry.add(Unsubscribe, handle_unsubscribe)
    registry.add(TicksSubscribe, handle_ticks_subscribe)
    registry.add(TicksUnsubscribe, handle_ticks_unsubscribe)
