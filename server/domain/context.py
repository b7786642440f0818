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

from schema.base import Command
from schema.errors import ErrorCode
from schema.events import EVENTS
from server.batching import Batcher
from server.clock import now_ms
from server.domain.holidays.engine import HolidayEngine
from server.domain.visibility.fanout import audience_of
from server.domain.visibility.policy import Viewer
from server.errors import ApiError
from server.settings import Settings
from server.storage.db import Database, Tx, lost_race
from server.storage.events import NewEvent, append_batch
from server.storage.locks import lock_keys, lock_set
from server.storage.ops import claim_op, store_op_reply
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


class OpAlreadyAppliedError(Exception):
    """The op_id was applied by an earlier (possibly concurrent) command."""


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

    async def flush(self) -> None:
        """Append the queued events, one batch per topic, and publish them after commit.

        Appending last keeps the topic head's row lock for the shortest time, and
        a client sees a transaction's events as one batch (``batch.index/size``).
        """
        # Topics in one order: two transactions never wait on each other's heads crosswise.
        for topic, batch in sorted(self._events.items()):
            for frame in await append_batch(self.conn, topic, batch):
                self.tx.after_commit.append(functools.partial(self.services.publish, topic, frame))
        self._events.clear()

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

    The locks are taken in one order before anything is read; with an op_id, it
    is claimed next and the reply stored before commit, so a repeat gets it back.
    """
    async with services.db.transaction() as tx:
        now = now_ms()
        mutation = Mutation(tx, services, actor, now)
        await mutation.hold(
            lock_set("owner", [actor.user_id, *owners]) | lock_set("meeting", meetings)
        )
        if actor.op_id and not await claim_op(
            tx.conn, actor.user_id, actor.op_id, actor.command, now
        ):
            raise OpAlreadyAppliedError(actor.op_id)
        yield mutation
        await mutation.flush()
        if actor.op_id:
            if mutation.reply is None:
                raise RuntimeError("a mutation with an op_id must call done()")
            await store_op_reply(tx.conn, actor.user_id, actor.op_id, mutation.reply)


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
