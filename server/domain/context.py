"""What every domain action needs: the services, the actor, and the mutation helper."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from schema.base import Command
from schema.events import EVENTS
from server.clock import now_ms
from server.domain.visibility.fanout import audience_of
from server.settings import Settings
from server.storage.db import Database, Tx
from server.storage.events import NewEvent, append_batch
from server.storage.ops import claim_op, store_op_reply

Publish = Callable[[str, bytes], Awaitable[None]]


@dataclass
class Services:
    """App-wide resources the domain uses; built once per app in its cleanup context."""

    settings: Settings
    db: Database
    publish: Publish
    epoch: str
    # Called with a timer's new due instant (Unix ms), so the scheduler can wake earlier.
    on_due_at: Callable[[int], None] = field(default=lambda _due_at: None)


@dataclass(frozen=True)
class Actor:
    """Who acts, and the op_id that makes the action idempotent."""

    user_id: str
    op_id: str | None = None
    command: str = ""


# The server itself (the due scheduler): events it emits carry "actor": null.
SYSTEM = Actor(user_id="")


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
        for topic, batch in self._events.items():
            for frame in await append_batch(self.conn, topic, batch):
                self.tx.after_commit.append(functools.partial(self.services.publish, topic, frame))
        self._events.clear()

    def done(self, reply: Any) -> Any:
        """Record the command's reply (stored for op_id replays) and return it."""
        self.reply = reply
        return reply


@contextlib.asynccontextmanager
async def mutate(services: Services, actor: Actor) -> AsyncIterator[Mutation]:
    """Open a mutation; with an op_id, claim it first and store the reply before commit."""
    async with services.db.transaction() as tx:
        now = now_ms()
        if actor.op_id and not await claim_op(
            tx.conn, actor.user_id, actor.op_id, actor.command, now
        ):
            raise OpAlreadyAppliedError(actor.op_id)
        mutation = Mutation(tx, services, actor, now)
        yield mutation
        await mutation.flush()
        if actor.op_id:
            if mutation.reply is None:
                raise RuntimeError("a mutation with an op_id must call done()")
            await store_op_reply(tx.conn, actor.user_id, actor.op_id, mutation.reply)


class Caller(Protocol):
    """What a command handler sees of the connection that sent the command."""

    services: Services
    user_id: str

    def actor(self, command: Command) -> Actor:
        """Return the actor for ``command`` (the user and the command's op_id)."""
