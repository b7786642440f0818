"""One sweep for every connection: heartbeats, token expiry and the auth deadline,
without a task or a timer each; each sweep looks only at the connections due
(``CheckSchedule``)."""

from __future__ import annotations

import asyncio
import time

from schema.errors import ErrorCode
from server.clock import iso_ms
from server.errors import ApiError
from server.protocol.checks import NEVER
from server.protocol.connection import CLOSE_TIMEOUT, CLOSE_UNAUTHORIZED, Connection
from server.protocol.dispatch import error_frame
from server.state import AppState

PING_FRAME = b"\x89\x00"  # an empty WebSocket ping
# The sweep's period: token expiry is acted on within this much of the instant.
SWEEP_MAX_S = 0.5
NO_AUTH_IN_TIME = "no auth frame in time"


def check_connection(conn: Connection, loop_now: float, wall_now: float) -> None:
    """Close a silent or expired connection; else ping it or warn of expiry when due."""
    settings = conn.settings
    beat = settings.ws_heartbeat_s
    # Silence alone is not enough: a ping must have gone unanswered for a whole
    # heartbeat, so a sweep delayed by a busy loop never closes a connection it
    # did not ask anything of.
    unanswered = conn.last_ping > conn.last_seen and loop_now - conn.last_ping >= beat
    if unanswered and loop_now - conn.last_seen > 2 * beat:
        conn.close_soon(CLOSE_TIMEOUT, "no pong within two heartbeats")
    elif wall_now >= conn.expires_at:
        conn.close_soon(CLOSE_UNAUTHORIZED, "token expired")
    else:
        if loop_now - conn.last_ping >= beat:
            conn.last_ping = loop_now
            conn.send_wire(PING_FRAME)
        # Not before ready: nothing but events may precede it (the next sweep warns).
        expiring = wall_now >= conn.expires_at - settings.ws_auth_expiring_s
        if conn.ready and not conn.expiry_warned and expiring:
            conn.expiry_warned = True
            conn.send_json({"type": "auth.expiring", "at": iso_ms(int(conn.expires_at * 1000))})


def next_check(conn: Connection, loop_now: float, wall_now: float, step: float) -> float:
    """Return when ``check_connection`` may next act on ``conn`` (the loop's clock): its
    next ping (also when an unanswered one is judged: a look that does not close
    pings again), the expiry warning, the expiry."""
    settings = conn.settings
    due = conn.last_ping + settings.ws_heartbeat_s
    expires_in = conn.expires_at - wall_now
    if not conn.expiry_warned:
        warn_in = expires_in - settings.ws_auth_expiring_s
        # Due already: it waits for ready, so look again at the next sweep.
        due = min(due, loop_now + (warn_in if warn_in > 0 else step))
    return min(due, loop_now + expires_in)


async def run_keepalive(state: AppState) -> None:
    """Sweep the connections due a few times per heartbeat."""
    loop = asyncio.get_running_loop()
    step = min(SWEEP_MAX_S, state.settings.ws_heartbeat_s / 2)
    while True:
        await asyncio.sleep(step)
        sweep(state, loop.time(), time.time(), step)


def sweep(state: AppState, loop_now: float, wall_now: float, step: float) -> None:
    """Look at each connection due once, and plan its next look (a function of its
    own: no connection stays referenced by the loop variable until the next sweep)."""
    schedule = state.checks
    for conn in schedule.take_due(loop_now):
        if conn.closing:
            continue
        if conn.user_id:
            check_connection(conn, loop_now, wall_now)
            if not conn.closing:
                schedule.at(conn, next_check(conn, loop_now, wall_now, step))
        elif loop_now >= conn.auth_deadline:
            time_out_auth(conn)
        elif conn.auth_deadline < NEVER:
            schedule.at(conn, conn.auth_deadline)


def time_out_auth(conn: Connection) -> None:
    """Refuse a connection that sent no ``auth`` in time: an error frame, then 4408."""
    conn.send(error_frame(None, ApiError(ErrorCode.UNAUTHORIZED, NO_AUTH_IN_TIME)))
    conn.close_soon(CLOSE_TIMEOUT, NO_AUTH_IN_TIME)
