"""The WebSocket endpoint: hello, auth, ready, then the command loop."""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
from typing import Any

import orjson
from aiohttp import WSMsgType, web
from aiohttp.abc import AbstractStreamWriter
from pydantic import ValidationError

from schema.errors import ErrorCode
from schema.frames import Auth, GuestAuth
from server.auth.errors import AuthError
from server.clock import iso_ms, now_ms
from server.domain.access import admit
from server.domain.context import Who
from server.domain.meetings.guests import admit_guest
from server.domain.users.actions import do_sign_in
from server.domain.visibility.policy import Viewer
from server.errors import ApiError, validation_details
from server.logs import bind_connection, bind_user
from server.protocol.connection import (
    CLOSE_UNAUTHORIZED,
    ClientLostError,
    Connection,
)
from server.protocol.dispatch import BAD_CODES, dispatch, error_frame
from server.protocol.limits import WindowCounter, client_address
from server.realtime.topics import is_valid_topic, meeting_topic, user_topic
from server.realtime.wire import text_frame
from server.state import STATE, AppState

log = logging.getLogger(__name__)

CLOSE_POLICY = 1008
CLOSE_RESTART = 1012
CLOSE_TRY_AGAIN_LATER = 1013
CLOSE_RATE_LIMITED = 4429
CLOSING_TYPES = (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR)


async def handle_ws(request: web.Request) -> web.StreamResponse:
    """Upgrade to a WebSocket and run the session."""
    state = request.app[STATE]
    address = client_address(
        request.remote, request.headers.get("X-Forwarded-For"), state.trusted_networks
    )
    if state.shutting_down:
        raise ApiError(ErrorCode.UNAVAILABLE, "the server is shutting down; reconnect shortly")
    wait_s = state.connect_limiter.allow(address)
    if wait_s is not None:
        # Doubled at most, at random: devices behind one address come back apart.
        ms = max(1, round(wait_s * (1 + random.random()) * 1000))
        raise ApiError(
            ErrorCode.RATE_LIMITED,
            "too many new connections from this address",
            {"retry_after_ms": ms},
        )
    await state.upgrades.wait()  # a herd's upgrades start a slice per turn of the loop
    # The guard refuses larger messages first (with a close that reaches a sending
    # client); aiohttp refuses a message of its max_msg_size, hence the byte more.
    ws = GreetingResponse(
        autoping=False, compress=False, max_msg_size=state.settings.ws_max_message_bytes + 1
    )
    http = await ws.prepare(request)
    assert request.transport is not None
    conn = Connection(state, ws, request.transport, secrets.token_hex(8), address)
    bind_connection(conn.id)
    state.connections.add(conn)
    try:
        await run_session(conn, http)
    except (ClientLostError, ConnectionResetError) as exc:
        # The client went away or stopped reading mid-reply: its doing, not a fault here.
        log.info("connection %s (user %s) ended: %s", conn.id, conn.user_id, exc)
    finally:
        # Its own task, shielded: aiohttp may cancel the handler of a client that
        # vanished, and the connection must still leave the hub, and then the set.
        finishing = conn.finish()
        finishing.add_done_callback(lambda _: state.connections.discard(conn))
        await asyncio.shield(finishing)
        await release_response(ws)
    return ws


class GreetingResponse(web.WebSocketResponse):
    """A WebSocket response whose 101 goes out with the first frame, ``hello``: one
    write instead of two (aiohttp holds the headers back, as for a plain response)."""

    _send_headers_immediately = False


async def release_response(ws: web.WebSocketResponse) -> None:
    """Close aiohttp's side of a finished socket, freeing the connection without the GC.

    The socket is gone by now, so aiohttp's close fails to write its close frame and
    keeps the error, whose traceback's frames hold the response: a reference cycle
    that kept each ended connection's objects (~75) alive until a full collection.
    A client that reset the socket or just closed it leaves a chain: the close error
    was raised while aiohttp handled the end of input, whose traceback holds the
    response as well.
    """
    await ws.close()
    error = ws.exception()
    while error is not None:
        error.__traceback__ = None
        error = error.__context__


def hello_frame(state: AppState) -> dict[str, Any]:
    """Build the server's first frame."""
    s = state.settings
    return {
        "type": "hello",
        "protocol": 1,
        "server_time": iso_ms(now_ms()),
        "epoch": state.services.epoch,
        "heartbeat_s": s.ws_heartbeat_s,
        "limits": {
            "max_message_bytes": s.ws_max_message_bytes,
            "commands_per_s": s.ws_rate_per_s,
            "command_burst": s.ws_rate_burst,
            "queue_max_frames": s.ws_queue_max_frames,
            "queue_max_bytes": s.ws_queue_max_bytes,
            "auth_timeout_s": s.ws_auth_timeout_s,
            "resume_max_events": s.resume_max_events,
        },
    }


async def run_session(conn: Connection, http: AbstractStreamWriter) -> None:
    """Admit, greet, authenticate, then serve commands until the socket closes.

    ``http`` holds the upgrade's 101 until ``hello`` goes with it; a connection that
    waits for its turn gets the 101 first.
    """
    admission = conn.state.admission
    if not admission.admit_now():
        http.send_headers()
        retry_after_s = await admission.wait_turn(conn.guard.released)
        if retry_after_s is not None:
            await turn_away(conn, retry_after_s)
            return
    ready = False
    try:
        await http.write(text_frame(orjson.dumps(hello_frame(conn.state))))
        ready = await authenticate(conn)
    finally:
        admission.leave(ready=ready)
    if ready:
        await read_commands(conn)


async def turn_away(conn: Connection, retry_after_s: float) -> None:
    """Tell a connection the instance is busy with others, and when to try again (1013)."""
    ms = round(retry_after_s * 1000)
    message = f"too many connections are signing in; retry after {ms} ms"
    error = ApiError(ErrorCode.UNAVAILABLE, message, {"retry_after_ms": ms})
    await refuse(conn, error, CLOSE_TRY_AGAIN_LATER)


async def refuse(conn: Connection, error: ApiError, code: int = CLOSE_UNAUTHORIZED) -> bool:
    """Send an error frame, let it reach the client, then close with ``code``."""
    conn.send(error_frame(None, error))
    await conn.close(code, error.message, flush_s=1.0)
    return False


async def authenticate(conn: Connection) -> bool:
    """Run the auth phase; True once ``ready`` was sent.

    No timer of its own: the keepalive sweep closes a connection whose ``auth``
    has not come by ``auth_deadline`` (``time_out_auth``), and the read then ends.
    """
    conn.auth_deadline = asyncio.get_running_loop().time() + conn.settings.ws_auth_timeout_s
    conn.state.checks.at(conn, conn.auth_deadline)
    msg = await conn.ws.receive()
    conn.auth_deadline = float("inf")
    if msg.type in CLOSING_TYPES or conn.closing:
        return False
    try:
        auth = read_auth(msg)
        if auth.guest is not None:
            return await authenticate_guest(conn, auth, auth.guest)
        identity = await verify_auth(conn, auth)
    except ApiError as error:
        return await refuse(conn, error)
    conn.set_expiry(identity.expires_at)
    conn.user_id = identity.sub
    bind_user(identity.sub)
    user = await do_sign_in(conn.services, identity)
    conn.viewer = Viewer.of(identity.sub, user.get("email"), user.get("email_verified"))
    await send_ready(conn, auth, {"user": user})
    return True


async def authenticate_guest(conn: Connection, auth: Auth, guest: GuestAuth) -> bool:
    """Admit a meeting guest to its one poll (see server/domain/meetings/guests.py)."""
    scope, participant = await admit_guest(conn.services, guest, conn.id)
    conn.become_guest(scope)
    ready = {"user": None, "guest": {"meeting_id": scope.meeting_id, "participant": participant}}
    await send_ready(conn, auth, ready)
    return True


def read_auth(msg: Any) -> Auth:
    """Parse the first frame as ``auth``, or raise."""
    if msg.type != WSMsgType.TEXT:
        raise ApiError(ErrorCode.BAD_FRAME, "the first frame must be a text auth frame")
    try:
        frame = orjson.loads(msg.data)
    except orjson.JSONDecodeError:
        raise ApiError(ErrorCode.BAD_FRAME, "the first frame is not JSON") from None
    if not isinstance(frame, dict) or frame.get("type") != "auth":
        raise ApiError(ErrorCode.UNAUTHORIZED, "the first frame must be auth")
    try:
        return Auth.model_validate(frame, strict=True)
    except ValidationError as exc:
        raise ApiError(
            ErrorCode.VALIDATION_ERROR,
            "the auth frame does not match its schema",
            validation_details(exc),
        ) from None


async def verify_auth(conn: Connection, auth: Auth) -> Any:
    """Verify the auth frame's token into an identity."""
    if auth.token is None:
        raise ApiError(ErrorCode.UNAUTHORIZED, "auth needs a token")
    try:
        return await conn.state.verifier.verify(auth.token)
    except AuthError as exc:
        raise ApiError(ErrorCode.UNAUTHORIZED, str(exc)) from None


async def send_ready(conn: Connection, auth: Auth, who: dict[str, Any]) -> None:
    """Join the home topic and the resumed ones (replaying first), then send ready.

    ``who`` is ``{"user": ...}``, or for a guest ``{"user": None, "guest": ...}``;
    a user's home is their own topic, a guest's its poll's.
    """
    own = user_topic(conn.user_id) if conn.guest is None else meeting_topic(conn.guest.meeting_id)
    wanted = {own: None, **auth.resume}
    topics, reset, denied, replayed = {}, [], [], 0
    for topic, since in wanted.items():
        valid = is_valid_topic(topic)
        admission = await admit(conn.services, Who.of(conn), topic, since) if valid else None
        if admission is None:
            denied.append(topic)
            continue
        result = await conn.join(topic, admission.since, auth.epoch, reset=admission.reset)
        topics[topic] = {"seq": result.seq}
        replayed += result.replayed
        if result.reset:
            reset.append(topic)
    conn.send_json(
        {
            "type": "ready",
            **who,
            "connection": conn.id,
            "epoch": conn.services.epoch,
            "topics": topics,
            "replayed": replayed,
            "reset": reset,
            "denied": denied,
            "server_time": iso_ms(now_ms()),
            "expires_at": None if conn.guest else iso_ms(int(conn.expires_at * 1000)),
        }
    )
    # After ready: nothing but events comes before it.
    conn.ready = True
    for topic in topics:
        await conn.show_presence(topic)


async def read_commands(conn: Connection) -> None:
    """Serve frames one at a time until the socket closes."""
    # Made at the first bad or rate-limited frame: most connections never need them.
    bad: WindowCounter | None = None
    limited: WindowCounter | None = None
    while not conn.closing:
        msg = await conn.ws.receive()
        conn.last_seen = asyncio.get_running_loop().time()
        if msg.type in CLOSING_TYPES:
            return
        if msg.type == WSMsgType.PING:
            await conn.ws.pong(msg.data)
            continue
        if msg.type == WSMsgType.PONG:
            continue
        reply, code = await answer(conn, msg)
        # Replies wait for room: a client that sends without reading is paced, not closed.
        if not await conn.send_paced(reply):
            return
        if code in BAD_CODES:
            bad = bad or WindowCounter()
            if bad.add() > conn.settings.ws_bad_frames_per_min:
                conn.close_soon(CLOSE_POLICY, "too many bad frames")
        elif code == ErrorCode.RATE_LIMITED:
            limited = limited or WindowCounter()
            if limited.add() > conn.settings.ws_rate_close_after:
                conn.close_soon(CLOSE_RATE_LIMITED, "rate limited")


async def answer(conn: Connection, msg: Any) -> tuple[bytes, ErrorCode | None]:
    """Answer a data frame: run its command here (no task of its own), or refuse a
    binary frame; return the reply and the error code, if any."""
    if msg.type == WSMsgType.BINARY:
        error = ApiError(ErrorCode.BAD_FRAME, "binary frames are not accepted")
        return error_frame(None, error), ErrorCode.BAD_FRAME
    conn.busy = True
    try:
        return await dispatch(conn, msg.data)
    finally:
        conn.command_done()


async def shutdown_connections(app: web.Application) -> None:
    """On SIGTERM: finish in-flight commands, flush queues, close every socket with 1012."""
    state = app[STATE]
    state.shutting_down = True
    await asyncio.gather(*(shutdown_one(conn, state) for conn in list(state.connections)))


async def shutdown_one(conn: Connection, state: AppState) -> None:
    """Let one connection's in-flight command finish, then close it with 1012."""
    grace = state.settings.shutdown_grace_s
    await conn.wait_idle(grace)
    await conn.close(CLOSE_RESTART, "server restarting", flush_s=min(grace, 2.0))
