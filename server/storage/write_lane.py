"""Row writes of many commands in one statement when many wait (PostgreSQL).

A timer's transition is one statement of its own (``events._write_and_append_pg``):
it updates the row, bumps its topic's head, writes the event and the op's reply,
and commits. Most of what PostgreSQL spends on it is the statement's own (a round
trip, a transaction, a commit), so when more than ``BATCH_FROM`` of these writes
are under way, a new one joins the lane's queue instead, and the lane sends what
waits there as one statement: each change still lands only while its row is at
the version read, on its own topic's head, with its own event and reply; the
statement commits them together.

A batch holds at most one change per topic and per row, so every change keeps
the single statement's outcome (written, or not at its version). The lane runs
one batch at a time; a batch locks its rows in key order, then its heads in
topic order, so batches of two instances never wait on each other crosswise.
When a batch is refused (a taken op_id, a deadlock with some other
transaction), nothing of it was written, and each of its changes runs again as
the single statement on its own, with that statement's outcome. Below
``BATCH_FROM`` nothing waits: a quiet server writes as before.
"""

from __future__ import annotations

import asyncio
import functools
import weakref
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from sqlalchemy import Table, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql import ClauseElement

from server.storage import driver
from server.storage.rows import put_cte
from server.storage.tables import events, op_replies
from server.storage.uncut import run_uncut

# Writes under way from which the next one waits for the lane, and how many a
# batch takes at most (the pool bounds the writes under way, 20 by default).
BATCH_FROM = 4
BATCH_MAX = 64

# A change the lane did not write (its batch failed): run it on its own.
RUN_ALONE = object()

_PG = postgresql.dialect()

# The shape of a write-and-append statement: the written table, its changed
# columns, whether the version is checked, the op's reply, the puts' tables.
Shape = tuple[Table, tuple[str, ...], bool, bool, tuple[Table, ...]]


@dataclass
class _Change:
    conn: AsyncConnection
    shape: Shape
    params: Mapping[str, Any]
    done: asyncio.Future[Any] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class WriteLane:
    """Batch the write-and-append statements of one engine while many are under way."""

    def __init__(self, batch_from: int = BATCH_FROM, batch_max: int = BATCH_MAX) -> None:
        self.batch_from = batch_from
        self.batch_max = batch_max
        self.under_way = 0
        # Counters (hipster_db_write_batches_total and the like): statements of more
        # than one change written, the changes they wrote, statements refused.
        self.batches = 0
        self.batched = 0
        self.refused = 0
        self._queue: deque[_Change] = deque()
        self._runner: asyncio.Task[None] | None = None

    def counts(self) -> tuple[int, int, int]:
        """Return the batches written, the changes in them, and the batches refused."""
        return self.batches, self.batched, self.refused

    async def write(
        self, conn: AsyncConnection, single: ClauseElement, shape: Shape, params: Mapping[str, Any]
    ) -> int | None:
        """Run the change (``single`` with ``params`` on ``conn``) alone or in a batch;
        return its event's seq, or None when its row was not at the version read."""
        self.under_way += 1
        try:
            # Few under way: alone, even while a batch runs (a batch that ran on would
            # otherwise hold every later change at a moderate load).
            if self.under_way <= self.batch_from:
                return await _run_single(conn, single, params)
            change = _Change(conn, shape, params)
            self._queue.append(change)
            if self._runner is None:
                self._runner = asyncio.create_task(self._run(), name="write-lane")
            # The batch may run on this change's connection: wait for it even when
            # cancelled, so the connection is not given back while it is in use.
            outcome = await run_uncut(change.done)
            if outcome is RUN_ALONE:
                return await _run_single(conn, single, params)
            return outcome
        finally:
            self.under_way -= 1

    async def _run(self) -> None:
        try:
            while self._queue:
                await self._run_batch(self._take())
        finally:
            self._runner = None
            while self._queue:  # the runner was cancelled (shutdown): nothing of these ran
                _settle(self._queue.popleft().done, RUN_ALONE)

    def _take(self) -> list[_Change]:
        """Take the first change and those behind it of its shape, on other topics and rows."""
        first = self._queue.popleft()
        batch, topics, rows, left = [first], {first.params["topic"]}, {first.params["w_id"]}, []
        while self._queue and len(batch) < self.batch_max:
            change = self._queue.popleft()
            topic, row = change.params["topic"], change.params["w_id"]
            if change.shape != first.shape or topic in topics or row in rows:
                left.append(change)
                continue
            batch.append(change)
            topics.add(topic)
            rows.add(row)
        self._queue.extendleft(reversed(left))
        return batch

    async def _run_batch(self, batch: list[_Change]) -> None:
        """Write a batch as one statement and settle each change with its seq (None: its
        row had moved on); a lone change runs on its own connection."""
        if len(batch) == 1:
            _settle(batch[0].done, RUN_ALONE)
            return
        statement = many_statement(*batch[0].shape)
        try:
            records = await driver.fetch(batch[0].conn, statement, _arrays(batch), cache=True)
        except asyncpg.PostgresError:
            # Refused by the database (a taken op_id, a deadlock): nothing was written.
            self.refused += 1
            for change in batch:
                _settle(change.done, RUN_ALONE)
            return
        except Exception as exc:
            # The link failed: the outcome is unknown, as it is for a single
            # statement cut off, and each change reports the error.
            for change in batch:
                change.done.set_exception(exc)
            return
        except asyncio.CancelledError:  # shutdown: the same, and the runner ends
            for change in batch:
                change.done.cancel()
            raise
        self.batches += 1
        self.batched += len(batch)
        seqs = {record["topic"]: int(record["seq"]) for record in records}
        for change in batch:
            _settle(change.done, seqs.get(change.params["topic"]))


_LANES: weakref.WeakKeyDictionary[Any, WriteLane] = weakref.WeakKeyDictionary()


def lane_of(conn: AsyncConnection) -> WriteLane:
    """Return the lane of ``conn``'s engine (made at its first write): one per pool,
    which the engine's autocommit variant shares."""
    pool = conn.engine.sync_engine.pool
    lane = _LANES.get(pool)
    if lane is None:
        lane = _LANES[pool] = WriteLane()
    return lane


def lane_for(engine: AsyncEngine) -> WriteLane | None:
    """Return ``engine``'s lane, or None before its first one-statement write (SQLite: never)."""
    return _LANES.get(engine.sync_engine.pool)


async def _run_single(
    conn: AsyncConnection, single: ClauseElement, params: Mapping[str, Any]
) -> int | None:
    records = await driver.fetch(conn, single, params, cache=True)
    return int(records[0]["seq"]) if records else None


def _settle(done: asyncio.Future[Any], outcome: Any) -> None:
    if not done.done():
        done.set_result(outcome)


def _arrays(batch: Sequence[_Change]) -> dict[str, list[Any]]:
    """Turn the changes' parameters into one array per parameter, in batch order."""
    return {name: [change.params[name] for change in batch] for name in batch[0].params}


def _column_types(shape: Shape) -> dict[str, str]:
    """Return each parameter's PostgreSQL type, by the column it is written to."""
    table, keys, checked, with_op, puts = shape
    named = {f"w_{key}": table.c[key] for key in keys}
    named["w_id"] = table.c.id
    if checked:
        named["w_version"] = table.c.version
    for name in ("topic", "name", "op_id", "actor", "at"):
        named[name] = events.c[name]
    for index, put in enumerate(puts):
        named.update({f"i{index}_{column.name}": column for column in put.c})
    if with_op:
        named.update({f"o_{column.name}": column for column in op_replies.c})
    types = {name: column.type.compile(dialect=_PG) for name, column in named.items()}
    return types | {"prefix": "TEXT", "suffix": "TEXT"}


@functools.cache
def many_statement(
    table: Table, keys: tuple[str, ...], checked: bool, with_op: bool, puts: tuple[Table, ...]
) -> Any:
    """Build the statement that writes many rows of ``table`` (each with its puts and
    op reply) and appends one event per written row on its own topic, returning
    ``(topic, seq)`` per written row."""
    types = _column_types((table, keys, checked, with_op, puts))
    names = list(types)
    arrays = ", ".join(f"CAST(:{name} AS {types[name]}[])" for name in names)
    sets = ", ".join(f"{key} = i.w_{key}" for key in keys)
    where = "t.id = i.w_id" + (" AND t.version = i.w_version" if checked else "")
    written_rows = "FROM input AS i JOIN written AS w ON w.n = i.n"
    parts = [
        f"input AS (SELECT * FROM unnest({arrays}) WITH ORDINALITY AS i({', '.join(names)}, n))",
        # Rows in key order: batches of two instances lock shared rows in one order.
        f"written AS (UPDATE {table.name} AS t SET {sets}, version = t.version + 1"
        f" FROM (SELECT * FROM input ORDER BY w_id) AS i WHERE {where} RETURNING i.n)",
        # Sorting waits for every row's write, then takes the heads in topic order.
        f"head AS (INSERT INTO topic_heads (topic, seq) SELECT i.topic, 1 {written_rows}"
        " ORDER BY i.topic ON CONFLICT (topic) DO UPDATE SET seq = topic_heads.seq + 1"
        " RETURNING topic, seq)",
    ]
    for index, put in enumerate(puts):
        columns = put.c.keys()
        values = ", ".join(f"i.i{index}_{column}" for column in columns)
        parts.append(put_cte(index, put, columns, values, written_rows))
    if with_op:
        columns = op_replies.c.keys()
        values = ", ".join(f"i.o_{column}" for column in columns)
        parts.append(
            f"op AS (INSERT INTO op_replies ({', '.join(columns)}) SELECT {values} {written_rows})"
        )
    return text(
        "WITH "
        + ", ".join(parts)
        + " INSERT INTO events (topic, seq, name, frame, op_id, actor, at)"
        " SELECT i.topic, h.seq, i.name, i.prefix || h.seq::text || i.suffix,"
        " i.op_id, i.actor, i.at FROM input AS i JOIN head AS h ON h.topic = i.topic"
        " RETURNING topic, seq"
    )
