"""The hub: topics to local subscribers, in seq order, gaps filled from the event log."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from server.batching import Batcher
from server.metrics import Metrics
from server.realtime.backend import FanoutBackend
from server.realtime.presence import BEAT_S, Presence, is_presence
from server.realtime.wire import text_frame
from server.storage.db import Database
from server.storage.events import first_retained_seq, get_heads, read_events

log = logging.getLogger(__name__)

REPLAY_CHUNK = 500


class TopicContext(Protocol):
    """What a topic's recipients are decided with (e.g. its owner's relations)."""

    def observe(self, event: dict[str, Any]) -> None:
        """Follow a change the topic's own event carries, in seq order."""


# Reads the contexts of topics the hub starts serving (a topic left out has none).
ContextLoader = Callable[[list[str], AsyncConnection], Awaitable[Mapping[str, TopicContext]]]


async def no_context(topics: list[str], conn: AsyncConnection) -> Mapping[str, TopicContext]:
    """The default loader: topics carry no context."""
    return {}


@dataclass
class Delivery:
    """One live event for every local subscriber of its topic.

    ``shared`` is for the subscribers: what one builds from the event (frames per
    audience) the next reuses, so nothing is serialised once per socket.
    """

    topic: str
    seq: int
    frame: bytes
    event: dict[str, Any]
    context: TopicContext | None
    shared: Any = None


class Subscriber(Protocol):
    """A local receiver of topic events (a connection)."""

    def deliver(self, delivery: Delivery) -> None:
        """Take one live event; must not block."""

    async def replay(
        self, topic: str, frames: Sequence[tuple[int, str]], context: TopicContext | None
    ) -> int:
        """Take stored events, waiting for room in the outbound queue; return how many it sent."""

    def present(self, topic: str, wire: bytes) -> None:
        """Take a framed ``presence`` frame of ``topic``; must not block."""


@dataclass
class _Topic:
    name: str
    subscribers: set[Subscriber] = field(default_factory=set)
    last_seq: int = 0
    active: bool = False
    closed: bool = False
    draining: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    context: TopicContext | None = None
    pending: deque[tuple[int, bytes, dict[str, Any]]] = field(default_factory=deque)


@dataclass(frozen=True)
class JoinResult:
    """Where a subscriber stands after joining: its seq, events replayed, whether to reset."""

    seq: int
    replayed: int
    reset: bool


class Hub:
    """Route each topic's events to local subscribers exactly once and in seq order."""

    def __init__(
        self,
        backend: FanoutBackend,
        db: Database,
        *,
        resume_max_events: int,
        load_context: ContextLoader = no_context,
        metrics: Metrics | None = None,
    ) -> None:
        self.backend = backend
        self.metrics = metrics or Metrics()
        self.db = db
        self.resume_max_events = resume_max_events
        self.load_context = load_context
        self._topics: dict[str, _Topic] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        # Topics starting at once (a reconnect storm) read their heads in one query.
        self._starts = Batcher(self._read_starts, "topic-starts")
        self.presence = Presence(secrets.token_hex(8), self.publish_presence, self._present)

    async def start(self) -> None:
        """Start the backend, delivering into this hub."""
        await self.backend.start(self.on_message, self.catch_up)

    async def stop(self) -> None:
        """Stop the backend and await the hub's own tasks."""
        await self.backend.stop()
        await self._starts.stop()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def publish(self, topic: str, frame: bytes) -> None:
        """Hand a committed event's frame to the backend, which returns without waiting on I/O."""
        self.metrics.events_published += 1
        await self.backend.publish(topic, frame)

    async def publish_presence(self, topic: str, message: bytes) -> None:
        """Hand a presence list to the backend: like an event's frame, but never logged."""
        await self.backend.publish(topic, message)

    async def run_presence(self) -> None:
        """Renew this instance's presence lists, and expire others', every ``BEAT_S``."""
        while True:
            await asyncio.sleep(BEAT_S)
            try:
                await self.presence.beat()
            except Exception:
                log.exception("presence beat failed")

    def _present(self, topic: str, frame: bytes) -> None:
        state = self._topics.get(topic)
        if state is None or state.closed:
            return
        wire = text_frame(frame)
        for sub in list(state.subscribers):
            sub.present(topic, wire)

    def topics(self) -> list[str]:
        """Return the topics with local subscribers."""
        return list(self._topics)

    def on_message(self, topic: str, message: bytes) -> None:
        """Take a message from the backend: deliver it now, or queue it behind a fill."""
        state = self._topics.get(topic)
        if state is None or state.closed:
            return
        if is_presence(message):
            self._spawn(self.presence.on_message(topic, message), f"presence:{topic}")
            return
        try:
            event = orjson.loads(message)
            seq = int(event["seq"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            log.warning("dropping a malformed fan-out message on %s", topic)
            return
        if state.active and not state.pending and not state.lock.locked():
            if seq == state.last_seq + 1:
                self._deliver(state, seq, message, event)
                return
            if seq <= state.last_seq:
                return
        state.pending.append((seq, message, event))
        self._schedule_drain(state)

    async def join(self, sub: Subscriber, topic: str, since: int | None) -> JoinResult:
        """Subscribe ``sub`` to ``topic``, replaying what it missed after ``since``."""
        while True:
            state = self._topics.setdefault(topic, _Topic(topic))
            async with state.lock:
                if state.closed:
                    continue
                await self._activate(state)
                result = await self._catch_up_subscriber(state, sub, since)
                state.subscribers.add(sub)
            self._schedule_drain(state)
            return result

    async def leave(self, sub: Subscriber, topic: str) -> None:
        """Remove ``sub``; the last one out unsubscribes upstream."""
        state = self._topics.get(topic)
        if state is None:
            return
        async with state.lock:
            state.subscribers.discard(sub)
            if state.subscribers or state.closed:
                return
            state.closed = True
            self._topics.pop(topic, None)
            if state.active:
                await self.backend.unsubscribe(topic)

    async def catch_up(self) -> None:
        """Deliver whatever the log holds beyond each topic's last delivered seq."""
        names = [name for name, state in self._topics.items() if state.active]
        if not names:
            return
        async with self.db.read() as conn:
            heads = await get_heads(conn, names)
        for name, head in heads.items():
            state = self._topics.get(name)
            if state is not None and head > state.last_seq:
                self._spawn(self._fill_to(state, head), f"hub-catch-up:{name}")

    async def run_sweeper(self, interval_s: float) -> None:
        """Catch up periodically, the safety net for a message lost without a disconnect."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.catch_up()
            except Exception:
                log.exception("hub sweep failed")

    async def _activate(self, state: _Topic) -> None:
        if state.active:
            return
        # Subscribe before reading the head: anything committed after the read
        # arrives as a message and waits in `pending` behind the lock.
        await self.backend.subscribe(state.name)
        state.last_seq, state.context = await self._starts.get(state.name)
        state.active = True

    async def _read_starts(self, topics: list[str]) -> dict[str, tuple[int, TopicContext | None]]:
        """Read where topics stand now: their heads, then their contexts."""
        async with self.db.read() as conn:
            heads = await get_heads(conn, topics)
            # Read after the heads: a change committed in between is also in a later
            # event, which the context observes again (observing is idempotent).
            contexts = await self.load_context(topics, conn)
        return {topic: (heads[topic], contexts.get(topic)) for topic in topics}

    async def _catch_up_subscriber(
        self, state: _Topic, sub: Subscriber, since: int | None
    ) -> JoinResult:
        head = state.last_seq
        if since is None or since == head:
            return JoinResult(head, 0, False)
        if since > head:
            return await self._ahead_of_us(state, since)
        async with self.db.read() as conn:
            first = await first_retained_seq(conn, state.name)
        if head - since > self.resume_max_events or first is None or first > since + 1:
            return JoinResult(head, 0, True)
        replayed = await self._replay(state, sub, since, head)
        return JoinResult(head, replayed, False)

    async def _ahead_of_us(self, state: _Topic, since: int) -> JoinResult:
        # A client may have seen events on another instance that have not reached
        # this one yet; only a cursor beyond the log's head is foreign.
        async with self.db.read() as conn:
            db_head = (await get_heads(conn, [state.name]))[state.name]
        if since > db_head:
            return JoinResult(db_head, 0, True)
        return JoinResult(since, 0, False)

    async def _replay(self, state: _Topic, sub: Subscriber, since: int, head: int) -> int:
        count = 0
        cursor = since
        while cursor < head:
            async with self.db.read() as conn:
                rows = await read_events(conn, state.name, cursor, head, REPLAY_CHUNK)
            if not rows:
                break
            count += await sub.replay(state.name, rows, state.context)
            cursor = rows[-1][0]
        return count

    def _schedule_drain(self, state: _Topic) -> None:
        if state.pending and not state.draining:
            state.draining = True
            self._spawn(self._drain(state), f"hub-drain:{state.name}")

    async def _drain(self, state: _Topic) -> None:
        try:
            async with state.lock:
                while state.pending and not state.closed:
                    seq, message, event = state.pending.popleft()
                    if seq <= state.last_seq:
                        continue
                    if seq > state.last_seq + 1:
                        await self._fill(state, seq - 1)
                    self._deliver(state, seq, message, event)
        finally:
            state.draining = False

    async def _fill_to(self, state: _Topic, head: int) -> None:
        async with state.lock:
            if not state.closed:
                await self._fill(state, head)

    async def _fill(self, state: _Topic, upto: int) -> None:
        while state.last_seq < upto:
            async with self.db.read() as conn:
                rows = await read_events(conn, state.name, state.last_seq, upto, REPLAY_CHUNK)
            if not rows:
                log.warning("gap on %s: %d..%d not in the log", state.name, state.last_seq, upto)
                state.last_seq = upto
                return
            for seq, frame in rows:
                data = frame.encode()
                self._deliver(state, seq, data, orjson.loads(data))

    def _deliver(self, state: _Topic, seq: int, frame: bytes, event: dict[str, Any]) -> None:
        state.last_seq = seq
        if state.context is not None:
            state.context.observe(event)
        if not state.subscribers:
            return
        self.metrics.observe_lag(event)
        delivery = Delivery(state.name, seq, frame, event, state.context)
        for sub in list(state.subscribers):
            sub.deliver(delivery)

    def _spawn(self, coro: Awaitable[None], name: str) -> None:
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("hub task %s failed", task.get_name(), exc_info=task.exception())
