"""What every domain action needs: the services, the actor, and the mutation helper."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ParamSpec, Protocol, TypeVar

from sqlalchemy import Table

from schema.base import Command
from schema.errors import ErrorCode
from schema.events import EVENTS
from server.batching import Batcher
from server.clock import now_ms
from server.domain.holidays.engine import HolidayEngine
from server.domain.rowcache import RowCache
from server.domain.visibility.fanout import audience_of
from server.domain.visibility.policy import Viewer
from server.errors import ApiError
from server.settings import Settings
from server.storage.db import Database, Tx, lost_race
from server.storage.events import (
    NewEvent,
    Put,
    RowWrite,
    StaleRowError,
    append_batch,
    apply_write,
    record_reply,
)
from server.storage.locks import lock_keys, lock_set
from server.storage.ops import OpRecord
from server.storage.users import get_users

log = logging.getLogger(__name__)

Publish = Callable[[str, bytes], Awaitable[None]]
P = ParamSpec("P")
T = TypeVar("T")

# Attempts per kind of lost race: a deadlock or serialization failure may repeat
# under heavy contention; a constraint that failed once is, on the second run,
# the command's own check (the winner is committed by then).
ATTEMPTS = {"transient": 5, "integrity": 2}
RETRY_BASE_S = 0.005


@dataclass
class Services:
    """App-wide resources the domain uses; built once per app in its cleanup context."""

    settings: Settings
    db: Database
    publish: Publish
    epoch: str
    # Called with a timer's new due instant (Unix ms), so the scheduler can wake earlier.
    on_due_at: Callable[[int], None] = field(default=lambda _due_at: None)
    # Pure and app-wide: its cache of computed years is shared by every request.
    holidays: HolidayEngine = field(default_factory=HolidayEngine)
    # Users signing in at once (a reconnect storm) are read in one query.
    signing_in: Batcher[str, Any] = field(init=False)
    # Timers as this process last wrote them: a transition on one skips its read.
    timer_rows: RowCache = field(default_factory=RowCache)

    def __post_init__(self) -> None:
        self.signing_in = Batcher(self._read_users, "signing-in")

    async def _read_users(self, user_ids: list[str]) -> dict[str, Any]:
        async with self.db.read() as conn:
            rows = await get_users(conn, user_ids)
        return {user_id: rows.get(user_id) for user_id in user_ids}


@dataclass(frozen=True)
class Actor:
    """Who acts, and the op_id that makes the action idempotent."""

    user_id: str
    op_id: str | None = None
    command: str = ""


# The server itself (the due scheduler): events it emits carry "actor": null.
SYSTEM = Actor(user_id="")


@dataclass
class GuestScope:
    """A meeting guest's connection: its one poll, and its participant once it has one.

    A guest acts as ``guest:<participant id>`` (its op_ids and events' ``actor``);
    before joining, as ``watcher:<connection id>``, so no two guests share op_ids.
    """

    meeting_id: str
    connection_id: str
    participant_id: str | None = None

    def joined(self, participant_id: str | None) -> GuestScope:
        """Return this scope acting as ``participant_id`` (None: back to watching)."""
        return GuestScope(self.meeting_id, self.connection_id, participant_id)

    @property
    def actor_id(self) -> str:
        """Return the id this guest acts under."""
        if self.participant_id is None:
            return f"watcher:{self.connection_id}"
        return f"guest:{self.participant_id}"


@dataclass(frozen=True)
class Who:
    """Who reads or opens something: a signed-in user (with their viewer) or a meeting guest."""

    user_id: str
    viewer: Viewer
    guest: GuestScope | None = None

    @classmethod
    def of(cls, caller: Caller) -> Who:
        """Take who calls from a connection (or any Caller)."""
        return cls(caller.user_id, caller.viewer, caller.guest)


class Mutation:
    """One transaction: write rows, emit events, then commit and publish."""

    def __init__(self, tx: Tx, services: Services, actor: Actor, now: int) -> None:
        self.tx = tx
        self.conn = tx.conn
        self.services = services
        self.actor = actor
        self.now = now
        self.reply: Any = None
        self.events = 0
        self._events: dict[str, list[NewEvent]] = {}
        self._held: set[int] = set()
        self._last_write: RowWrite | None = None

    def pending_version(self) -> int | None:
        """Return the version the last write expects its row at (None: any, or no write)."""
        return None if self._last_write is None else self._last_write.version

    async def lock_owners(self, owners: Iterable[str]) -> None:
        """Hold the owners' locks until commit: their data's rules cannot change meanwhile.

        Every mutation holds its actor's lock from its first statement, so checks
        that read several rows of one owner (a tree, a group's names, a deadline's
        schedule) see no concurrent writer. Take every other owner a mutation
        writes for up front (``mutate(owners=...)``): a lock taken later, out of
        order, can deadlock, which the database breaks and ``retrying`` retries.
        """
        await self.hold(lock_set("owner", owners))

    async def hold(self, keys: set[int]) -> None:
        """Take the locks of ``keys`` not yet held, smallest key first."""
        fresh = keys - self._held
        await lock_keys(self.conn, fresh)
        self._held |= fresh

    def emit(
        self, topic: str, name: str, data: Any, *, audience: dict[str, Any] | None = None
    ) -> None:
        """Queue an event; all of them are appended when the transaction's work is done.

        ``audience`` says who besides the topic's owner may receive it; see
        ``server.domain.visibility.fanout.audience_of``.
        """
        if name not in EVENTS:
            raise ValueError(f"undeclared event {name}: add it to schema/events.py")
        if audience is None:
            audience = audience_of(data)
        actor = self.actor.user_id or None
        event = NewEvent(name, data, self.actor.op_id, actor, self.now, audience)
        self._events.setdefault(topic, []).append(event)
        self.events += 1

    def write_last(
        self,
        table: Table,
        ident: str,
        values: dict[str, Any],
        version: int | None = None,
        puts: tuple[Put, ...] = (),
    ) -> None:
        """Write a row's ``values`` (its version bumped) with the events, as the last write;
        with ``version``, only while the row still has it (else ``StaleRowError``);
        ``puts``: rows of other tables put with it (inserted, or replacing the row
        under their primary key).

        Nothing the mutation reads afterwards sees it: it goes out when the events
        are appended, in the same statement on PostgreSQL (one round trip for the
        change, its event and the op's reply: the shape of most commands).
        """
        if self._last_write is not None:
            raise RuntimeError("a mutation has one last write")
        self._last_write = RowWrite(table, ident, values, version, puts)

    async def flush(self) -> None:
        """Write the last row, append the queued events (one batch per topic), store the
        op's reply, and publish the events after commit.

        Appending last keeps the topic head's row lock for the shortest time, and
        a client sees a transaction's events as one batch (``batch.index/size``).
        """
        write, self._last_write = self._last_write, None
        op = self._op_record()
        # Topics in one order: two transactions never wait on each other's heads crosswise.
        for topic, batch in sorted(self._events.items()):
            for frame in await append_batch(self.conn, topic, batch, write, op):
                self.tx.after_commit.append(functools.partial(self.services.publish, topic, frame))
            write = op = None
        await apply_write(self.conn, write)  # a mutation without events
        await record_reply(self.conn, op)
        self._events.clear()

    def _op_record(self) -> OpRecord | None:
        """Return the reply to store under the actor's op_id (None without one)."""
        actor = self.actor
        if not actor.op_id:
            return None
        if self.reply is None:
            raise RuntimeError("a mutation with an op_id must call done()")
        return OpRecord(actor.user_id, actor.op_id, actor.command, self.reply, self.now)

    def done(self, reply: Any) -> Any:
        """Record the command's reply (stored for op_id replays) and return it."""
        self.reply = reply
        return reply


@contextlib.asynccontextmanager
async def mutate(
    services: Services,
    actor: Actor,
    *,
    owners: Iterable[str] = (),
    meetings: Iterable[str] = (),
) -> AsyncIterator[Mutation]:
    """Open a mutation holding the locks of the actor, ``owners`` and ``meetings``.

    The locks are taken in one order before anything is read. With an op_id the
    reply is stored last, in the same transaction: a repeat finds the key taken,
    rolls back (``OpAlreadyAppliedError``) and is answered with the first reply.
    """
    async with services.db.transaction() as tx:
        mutation = Mutation(tx, services, actor, now_ms())
        await mutation.hold(
            lock_set("owner", [actor.user_id, *owners]) | lock_set("meeting", meetings)
        )
        yield mutation
        await mutation.flush()


@contextlib.asynccontextmanager
async def mutate_read_row(services: Services, actor: Actor) -> AsyncIterator[Mutation]:
    """Open a mutation whose whole change is one row, read before it, and one event.

    The body calls ``write_last`` with the version the row was read at (or
    cached at: ``RowCache``) and emits one event: on PostgreSQL the write is one
    statement on its own (no transaction), written only while the row still has
    that version. A row written meanwhile raises ``StaleRowError``, which
    ``retrying`` answers by running the action again. It suits a change that
    checks no rule across rows (a timer's pause).
    """
    async with services.db.one_statement() as tx:
        mutation = Mutation(tx, services, actor, now_ms())
        yield mutation
        if mutation.events != 1 or mutation.pending_version() is None:
            raise RuntimeError("mutate_read_row takes one write_last at a version and one event")
        await mutation.flush()


def retrying(action: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """Run a transactional action again when a concurrent transaction made it fail.

    Every action that opens ``mutate`` carries this: a rolled-back attempt left
    nothing behind (its after-commit hooks never ran), so running it again is the
    transparent retry; when attempts run out the client gets ``conflict``, never
    ``internal_error``.
    """

    @functools.wraps(action)
    async def run(*args: P.args, **kwargs: P.kwargs) -> T:
        attempt = 0
        while True:
            try:
                return await action(*args, **kwargs)
            except Exception as exc:
                kind = lost_race(exc)
                if kind is None:
                    raise
                attempt += 1
                log.info("%s lost a race (%s), attempt %d", action.__name__, kind, attempt)
                if attempt >= ATTEMPTS[kind]:
                    raise busy() from exc
                if attempt > 1 or not isinstance(exc, StaleRowError):  # a stale row: read now
                    await asyncio.sleep(random.uniform(0, RETRY_BASE_S * 2**attempt))

    return run


def busy() -> ApiError:
    """Build the conflict a client gets when concurrent changes kept winning."""
    return ApiError(
        ErrorCode.CONFLICT,
        "concurrent changes to the same data kept winning; read it again and retry",
        {"reason": "concurrent_change"},
    )


class Caller(Protocol):
    """What a command handler sees of the connection that sent the command."""

    services: Services
    user_id: str
    viewer: Viewer
    guest: GuestScope | None

    def become_guest(self, scope: GuestScope) -> None:
        """Act as a meeting guest of one poll."""

    async def show_presence(self, topic: str) -> None:
        """Be seen on a poll's topic again (after joining or leaving it)."""

    def actor(self, command: Command) -> Actor:
        """Return the actor for ``command`` (the user and the command's op_id)."""
