"""The keepalive sweep's decisions for one connection, and when it looks at each."""

from __future__ import annotations

import weakref
from types import SimpleNamespace
from typing import Any

from server.protocol.checks import NEVER, CheckSchedule
from server.protocol.keepalive import check_connection, next_check
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


def test_the_next_look_is_the_next_ping_for_a_quiet_connection():
    conn = connection(ready=True, expires_at=float("inf"))  # heartbeat 25 s
    assert next_check(conn, loop_now=101.0, wall_now=1_000.0, step=0.5) == 125.0


def test_a_silent_connection_is_judged_when_its_next_ping_is_due():
    conn = connection(ready=True, expires_at=float("inf"))
    conn.last_seen, conn.last_ping = 89.0, 115.0  # pinged at 115, nothing since 89
    assert next_check(conn, loop_now=115.0, wall_now=1_000.0, step=0.5) == 140.0
    check_connection(conn, loop_now=140.0, wall_now=1_025.0)
    assert conn.sent == [{"close": 4408}]  # 51 s of silence by then: closed, not pinged


def test_expiry_brings_the_next_look_forward_and_waits_for_ready():
    conn = connection(ready=True, expires_at=1_090.0)  # warn 60 s before: at 1,030
    assert next_check(conn, loop_now=101.0, wall_now=1_000.0, step=0.5) == 125.0
    conn.expires_at = 1_070.0  # warn due at 1,010, 10 s from now
    assert next_check(conn, loop_now=101.0, wall_now=1_000.0, step=0.5) == 111.0
    conn.expires_at, conn.ready = 1_030.0, False  # warning due, held until ready
    assert next_check(conn, loop_now=101.0, wall_now=1_000.0, step=0.5) == 101.5
    conn.expiry_warned = True  # warned: the close at expiry
    conn.expires_at = 1_010.0
    assert next_check(conn, loop_now=101.0, wall_now=1_000.0, step=0.5) == 111.0


class Conn:
    """What the schedule keeps of a connection."""

    def __init__(self) -> None:
        self.check_due = NEVER


def test_the_schedule_returns_each_connection_due_once_earliest_first():
    schedule: CheckSchedule[Conn] = CheckSchedule()
    a, b, c = Conn(), Conn(), Conn()
    schedule.at(a, 5.0)
    schedule.at(b, 1.0)
    schedule.at(c, 9.0)
    schedule.at(a, 7.0)  # later: the look at 5 plans what follows
    schedule.at(c, 2.0)  # earlier: supersedes 9
    assert schedule.take_due(6.0) == [b, c, a]
    assert schedule.take_due(10.0) == []  # c's old entry at 9 is no longer live
    assert (a.check_due, b.check_due, c.check_due) == (NEVER, NEVER, NEVER)
    assert len(schedule) == 0


def test_the_schedule_holds_no_connection_alive():
    schedule: CheckSchedule[Conn] = CheckSchedule()
    conn = Conn()
    gone = weakref.ref(conn)
    schedule.at(conn, 1.0)
    del conn
    assert gone() is None  # an ended connection goes at once, not when its look comes
    assert schedule.take_due(2.0) == []
