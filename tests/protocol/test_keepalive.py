"""The keepalive sweep's decisions for one connection."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from server.protocol.keepalive import check_connection
from server.settings import Settings


def connection(*, ready: bool, expires_at: float) -> Any:
    """A connection as the sweep reads it, recording what it sends."""
    sent: list[dict[str, Any]] = []
    return SimpleNamespace(
        settings=Settings(ws_auth_expiring_s=60.0),
        last_ping=100.0,
        last_seen=100.0,
        expires_at=expires_at,
        expiry_warned=False,
        ready=ready,
        sent=sent,
        send_json=sent.append,
        send_wire=lambda _wire: None,
        close_soon=lambda code, reason: sent.append({"close": code}),
    )


def test_expiry_is_announced_only_once_the_connection_is_ready():
    conn = connection(ready=False, expires_at=1_030.0)
    check_connection(conn, loop_now=101.0, wall_now=1_000.0)
    assert conn.sent == []  # a frame before ready would break the handshake
    conn.ready = True
    check_connection(conn, loop_now=101.5, wall_now=1_000.5)
    check_connection(conn, loop_now=102.0, wall_now=1_001.0)
    assert [frame["type"] for frame in conn.sent] == ["auth.expiring"]
