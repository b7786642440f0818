"""One authenticated WebSocket: a Caller for handlers and a Subscriber of the hub."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
from aiohttp import web

from schema.base import Command
from server.clock import iso_ms
from server.domain.context import Actor, GuestScope, Who
from server.domain.meetings.presence import viewer_entry
from server.domain.timers.logic import tick_entry
from server.domain.visibility.fanout import EventFrames, Out, route
from server.domain.visibility.policy import Viewer
from server.protocol.checks import NEVER
from server.protocol.guard import SocketGuard
from server.protocol.limits import TokenBucket
from server.protocol.outbound import Outbound
from server.realtime.hub import Delivery, JoinResult, TopicContext
from server.realtime.topics import topic_meeting, topic_owner
from server.realtime.wire import close_frame, text_frame
from server.state import AppState

log = logging.getLogger(__name__)

CLOSE_NORMAL = 1000
CLOSE_SLOW_CONSUMER = 4409
CLOSE_UNAUTHORIZED = 4401
CLOSE_TIMEOUT = 4408


class ClientLostError(ConnectionError):
    """The client left, or stopped taking frames, in the middle of a reply."""


# Every connection's viewer until it authenticates (a Viewer is immutable: one will do).
NOBODY = Viewer("")


class Connection:
    """State of one WebSocket after its handshake: user, cursors, queue, ticks."""

    def __init__(
        self,
        state: AppState,
        ws: web.WebSocketResponse,
        transport: asyncio.Transport,
        conn_id: str,
        address: str,
    ):
        self.state = state
        self.services = state.services
        self.settings = state.settings
        self.ws = ws
        self.id = conn_id
        self.address = address
        self.user_id = ""
        self.viewer = NOBODY  # set at authentication
        self.guest: GuestScope | None = None
        self.ready = False  # set once ``ready`` went out: nothing but events precedes it
        self._leaving: set[asyncio.Task[None]] = set()
        self.expires_at = float("inf")  # set at authentication
        # When the keepalive sweep gives up waiting for ``auth`` (loop time; set at hello).
        self.auth_deadline = float("inf")
        self.cursors: dict[str, int] = {}
        self.out = Outbound(
            transport, self.settings.ws_queue_max_frames, self.settings.ws_queue_max_bytes
        )
        self.tick_interval: int | None = None
        self.tick_timers: dict[str, tuple[dict[str, Any], int]] = {}
        self.bucket = TokenBucket(self.settings.ws_rate_per_s, self.settings.ws_rate_burst)
        self.closing = False
        self.last_seen = asyncio.get_running_loop().time()
        self.busy = False  # a command is under way
        self._idle: asyncio.Future[None] | None = None  # made only when someone waits
        self._close_task: asyncio.Task[None] | None = None
        self._finish_task: asyncio.Task[None] | None = None
        self.last_ping = self.last_seen
        self.expiry_warned = False
        self.check_due = NEVER  # when the keepalive sweep looks next (CheckSchedule)
        # Last: from here on the guard may report a refused frame through close_soon.
        self.guard = SocketGuard(transport, self.settings.ws_max_message_bytes, self.close_soon)

    def command_done(self) -> None:
        """Mark the command under way finished, waking whoever waits for it."""
        self.busy = False
        if self._idle is not None:
            if not self._idle.done():
                self._idle.set_result(None)
            self._idle = None

    async def wait_idle(self, timeout: float) -> None:
        """Wait up to ``timeout`` s for the command under way, if any, to finish."""
        if not self.busy:
            return
        if self._idle is None:
            self._idle = asyncio.get_running_loop().create_future()
        await asyncio.wait([self._idle], timeout=timeout)

    def become_guest(self, scope: GuestScope) -> None:
        """Act as a meeting guest of one poll (see ``GuestScope``)."""
        self.guest = scope
        self.user_id = scope.actor_id
        self.viewer = Viewer(scope.actor_id)
        self._check_soon()

    def actor(self, command: Command) -> Actor:
        """Return the actor of a command sent on this connection."""
        op_id = command.op_id if command.mutating else None
        return Actor(self.user_id, op_id, command.command_name())

    def send(self, frame: bytes) -> None:
        """Send a serialized frame; a full backlog closes the connection as a slow consumer."""
        self.send_wire(text_frame(frame))

    def send_wire(self, wire: bytes) -> None:
        """Send an already framed message (fan-out frames are framed once for everyone)."""
        if not self.closing and not self.out.push(wire):
            self.close_soon(CLOSE_SLOW_CONSUMER, "slow consumer")

    def send_json(self, frame: dict[str, Any]) -> None:
        """Serialize and queue a frame."""
        self.send(orjson.dumps(frame))

    async def send_paced(self, frame: bytes) -> bool:
        """Queue a frame, waiting for room; False when the client stays behind."""
        return await self.send_wire_paced(text_frame(frame))

    async def send_wire_paced(self, wire: bytes) -> bool:
        """Queue a framed message, waiting for room; False (and 4409) when the client lags."""
        if self.closing:
            return False
        if await self.out.put(wire, timeout=self.settings.ws_send_timeout_s):
            return True
        if not self.out.transport.is_closing():  # else the client left: no one to tell
            self.close_soon(CLOSE_SLOW_CONSUMER, "slow consumer")
        return False

    def deliver(self, delivery: Delivery) -> None:
        """Take a live event from the hub: once, in order, as much of it as this user may see."""
        topic, seq = delivery.topic, delivery.seq
        cursor = self.cursors.get(topic)
        if cursor is None or seq <= cursor or self.closing:
            return
        self.cursors[topic] = seq
        if delivery.shared is None:
            delivery.shared = EventFrames(delivery.frame, delivery.event)
        routed = route(self.viewer, delivery.context, delivery.shared)
        self.state.metrics.events_delivered += len(routed.frames)
        for out in routed.frames:
            self._track_tick(out)
            self.send_wire(out.wire)
        if routed.ends:
            self._end_subscription(topic)

    async def replay(
        self, topic: str, frames: Sequence[tuple[int, str]], context: TopicContext | None
    ) -> int:
        """Take stored events from the hub during a join, pacing on the queue; count those sent."""
        sent = 0
        for seq, frame in frames:
            if topic not in self.cursors or seq <= self.cursors[topic]:
                continue
            self.cursors[topic] = seq
            data = frame.encode()
            routed = route(self.viewer, context, EventFrames(data, orjson.loads(data)))
            for out in routed.frames:
                self._track_tick(out)
                if not await self.send_wire_paced(out.wire):
                    raise ClientLostError("the client left or fell behind during replay")
            sent += bool(routed.frames)
            if routed.ends:
                self._end_subscription(topic)
        return sent

    def _end_subscription(self, topic: str) -> None:
        """Stop a topic at once (the hub lets go of this connection in the background)."""
        self.cursors.pop(topic, None)
        task = asyncio.create_task(self.state.hub.leave(self, topic), name=f"leave:{topic}")
        self._leaving.add(task)
        task.add_done_callback(self._leaving.discard)
        self.forget_ticks_of(topic_owner(topic))

    def forget_ticks_of(self, owner: str | None) -> None:
        """Stop ticking the timers of ``owner`` (a friend topic this connection left)."""
        self.tick_timers = {
            ident: seen for ident, seen in self.tick_timers.items() if seen[0]["owner_id"] != owner
        }

    async def join(
        self, topic: str, since: int | None, epoch: str | None = None, *, reset: bool = False
    ) -> JoinResult:
        """Subscribe to ``topic`` through the hub, replaying after ``since``.

        A cursor of another epoch (another event history) is not replayed: the
        topic starts at its head and is reported reset, as it is when ``reset``.
        """
        foreign = reset or (
            epoch is not None and epoch != self.services.epoch and since is not None
        )
        if foreign:
            since = None
        self.cursors[topic] = since or 0
        result = await self.state.hub.join(self, topic, since)
        self.state.metrics.joined(result.replayed, result.reset or foreign)
        if topic not in self.cursors:  # the replay ended the subscription
            return result
        self.cursors[topic] = max(self.cursors[topic], result.seq)
        return dataclasses.replace(result, reset=True) if foreign else result

    async def leave(self, topic: str) -> None:
        """Unsubscribe from ``topic``."""
        self.cursors.pop(topic, None)
        await self.state.hub.presence.hide(topic, self.id)
        await self.state.hub.leave(self, topic)

    async def show_presence(self, topic: str) -> None:
        """Be seen on a poll's topic (again, when who this connection is there changed)."""
        meeting_id = topic_meeting(topic)
        if meeting_id is None or topic not in self.cursors:
            return
        viewer = await viewer_entry(self.services, Who.of(self), meeting_id, self.id)
        await self.state.hub.presence.show(topic, viewer)

    def present(self, topic: str, wire: bytes) -> None:
        """Take a ``presence`` frame of a topic this connection follows (once it is ready:
        its own showing, right after ``ready``, brings it the whole list)."""
        if self.ready and topic in self.cursors:
            self.send_wire(wire)

    def seed_ticks(self, timers: list[dict[str, Any]], *, more: bool = False) -> None:
        """Start tracking the running timers this connection may see (``more``: add to them)."""
        if not more:
            self.tick_timers = {}
        for timer in timers:
            self._remember_timer(timer)

    def send_tick(self, now: int) -> None:
        """Queue one tick frame with every tracked running timer's clock at ``now``."""
        timers = [
            tick_entry(timer, timer["owner_id"], now, seen)
            for timer, seen in self.tick_timers.values()
        ]
        self.send_json({"type": "tick", "server_time": iso_ms(now), "timers": timers})

    def _track_tick(self, out: Out) -> None:
        name = out.name
        if self.tick_interval is None or not name.startswith("timer."):
            return
        data = out.data or {}
        if name in ("timer.deleted", "timer.removed") or data.get("status") != "RUNNING":
            self.tick_timers.pop(data.get("id", ""), None)
        else:
            self._remember_timer(data)

    def _remember_timer(self, timer: dict[str, Any]) -> None:
        if timer.get("status") == "RUNNING":
            seen = int(datetime.fromisoformat(timer["server_time"]).timestamp() * 1000)
            self.tick_timers[timer["id"]] = (timer, seen)

    def set_expiry(self, expires_at: float) -> None:
        """Take a token's expiry (the keepalive sweep warns before it and closes at it)."""
        self.expires_at = expires_at
        self.expiry_warned = False
        self._check_soon()

    def _check_soon(self) -> None:
        """Have the next keepalive sweep look at this connection (it plans the rest)."""
        self.state.checks.at(self, asyncio.get_running_loop().time())

    def finish(self) -> asyncio.Task[None]:
        """Leave every topic, then close (1000, unless a close began) and release: one task."""
        if self._finish_task is None:
            self._finish_task = asyncio.create_task(self._finish(), name=f"finish:{self.id}")
        return self._finish_task

    async def _finish(self) -> None:
        self.closing = True
        self.out.stop()
        self.state.ticker.remove(self)
        for topic in list(self.cursors):
            await self.leave(topic)
        await self.close(CLOSE_NORMAL, "bye")

    def close_soon(self, code: int, reason: str) -> None:
        """Start closing with ``code`` in the background (callable from sync code)."""
        self._begin_close(code, reason)

    async def close(self, code: int, reason: str, *, flush_s: float = 0.0) -> None:
        """Close with ``code`` after ``flush_s`` s for the backlog; wait for the release."""
        # The first close wins: a later one waits for it.
        await asyncio.shield(self._begin_close(code, reason, flush_s))

    def _begin_close(self, code: int, reason: str, flush_s: float = 0.0) -> asyncio.Task[None]:
        if self._close_task is None:
            self.closing = True
            if not self.ws.closed:  # not the answer to a close the client began
                self.state.metrics.closed(code)
            level = logging.DEBUG if code == CLOSE_NORMAL else logging.INFO
            ids = {"connection_id": self.id, "user_id": self.user_id}  # not the caller's context
            log.log(
                level,
                "closing connection %s (user %s): %d %s",
                *ids.values(),
                code,
                reason,
                extra=ids,
            )
            self._close_task = asyncio.create_task(
                self._close(code, reason, flush_s), name=f"close:{self.id}"
            )
        return self._close_task

    async def _close(self, code: int, reason: str, flush_s: float) -> None:
        if flush_s:
            await self.out.drain(flush_s)
        self.out.stop()
        await self.guard.close(close_frame(code, reason))
