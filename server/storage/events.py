"""The event log: per-topic seqs allocated in the writer's transaction."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Table, bindparam, delete, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from server.clock import iso_ms
from server.storage.driver import on_driver
from server.storage.ops import OpAlreadyAppliedError, OpRecord, is_op_taken, record_op
from server.storage.rows import (
    put_cte,
    put_row,
    rows_one_of,
    update_row,
    write_count,
    write_returning,
)
from server.storage.tables import events, topic_heads
from server.storage.write_lane import lane_of

# PostgreSQL bumps the head and writes the event in one round trip; the frame's
# seq is spliced in by the database between the two halves Python serialized.
_EVENT = """
    INSERT INTO events (topic, seq, name, frame, op_id, actor, at)
    SELECT :topic, head.seq, :name,
           CAST(:prefix AS text) || head.seq::text || CAST(:suffix AS text),
           :op_id, :actor, :at
    FROM head
    RETURNING seq
"""
_HEAD = """
    head AS (
        INSERT INTO topic_heads (topic, seq) SELECT :topic, 1 {source}
        ON CONFLICT (topic) DO UPDATE SET seq = topic_heads.seq + 1
        RETURNING seq
    )
"""
_APPEND_PG = text("WITH" + _HEAD.format(source="") + _EVENT)
# With a row's write: the head moves, the event and the op's reply are written only
# when the write happened (a row no longer at the version read writes nothing, and
# the statement returns no seq); a taken op_id fails the whole statement.
_WRITTEN = "written AS (UPDATE {table} SET {sets}, version = version + 1 WHERE {where} RETURNING 1)"
_OP = """
    op AS (
        INSERT INTO op_replies (user_id, op_id, command, created_at, reply)
        SELECT :o_user_id, :o_op_id, :o_command, :o_created_at, :o_reply FROM written
    )
"""


class StaleRowError(Exception):
    """A row read at one version was written meanwhile: read it again and redo the change."""


# A row of another table put with the write (inserted, or replacing the row under
# its primary key): its table and values.
Put = tuple[Table, dict[str, Any]]
# The shape of a Put, which the statement's text follows.
PutShape = tuple[Table, tuple[str, ...]]


@dataclass(frozen=True)
class RowWrite:
    """A row's changed fields, written with its version bumped (``Mutation.write_last``);
    with ``version``, only while the row still has it. ``puts`` are rows of other
    tables put with it, only when it is written (a timer's history entry)."""

    table: Table
    ident: str
    values: dict[str, Any]
    version: int | None = None
    puts: tuple[Put, ...] = ()

    def put_shapes(self) -> tuple[PutShape, ...]:
        """Return each put's table and columns."""
        return tuple((table, tuple(values)) for table, values in self.puts)


@functools.cache
def _write_and_append_pg(
    table: Table,
    keys: tuple[str, ...],
    checked: bool,
    with_op: bool,
    puts: tuple[PutShape, ...] = (),
) -> Any:
    """Build the statement that writes a row (with its puts, and the op's reply) and
    appends one event."""
    for target, columns in ((table, keys), *puts):
        unknown = set(columns) - set(target.c.keys())
        if unknown:
            raise ValueError(f"{target.name} has no column {sorted(unknown)}")
    for target, columns in puts:
        if set(columns) != set(target.c.keys()):
            raise ValueError(f"a put into {target.name} gives every column, not {columns}")
    sets = ", ".join(f"{key} = :w_{key}" for key in keys)
    where = "id = :w_id" + (" AND version = :w_version" if checked else "")
    parts = [
        _WRITTEN.format(table=table.name, sets=sets, where=where),
        _HEAD.format(source="FROM written"),
    ]
    for index, (target, columns) in enumerate(puts):
        values = ", ".join(f":i{index}_{column}" for column in columns)
        parts.append(put_cte(index, target, columns, values, "FROM written"))
    if with_op:
        parts.append(_OP)
    return text("WITH " + ", ".join(parts) + _EVENT)


def _write_params(write: RowWrite, op: OpRecord | None) -> dict[str, Any]:
    params = {f"w_{key}": value for key, value in write.values.items()}
    params.update(w_id=write.ident, w_version=write.version)
    if write.version is None:
        del params["w_version"]
    for index, (_table, values) in enumerate(write.puts):
        params.update({f"i{index}_{column}": value for column, value in values.items()})
    if op is not None:
        params.update({f"o_{key}": value for key, value in op.params().items()})
    return params


def _bump_statement(insert: Any) -> Any:
    """Build the dialect's upsert that adds ``count`` to a topic's head and returns it."""
    return (
        insert(topic_heads)
        .values(topic=bindparam("topic"), seq=bindparam("count"))
        .on_conflict_do_update(
            index_elements=[topic_heads.c.topic],
            set_={"seq": topic_heads.c.seq + bindparam("count")},
        )
        .returning(topic_heads.c.seq)
    )


_BUMP_SQLITE = _bump_statement(sqlite.insert)
_BUMP_PG = _bump_statement(postgresql.insert)
_INSERT_EVENT = events.insert()


@dataclass(frozen=True)
class NewEvent:
    """An event to append: its name, data, and who caused it."""

    name: str
    data: Any
    op_id: str | None
    actor: str | None
    at_ms: int
    # Who may receive it beyond the topic's owner (server/domain/visibility/fanout.py);
    # stored with the frame, never sent.
    audience: dict[str, Any] | None = None


def frame_halves(event: NewEvent, topic: str, batch: tuple[int, int] | None) -> tuple[bytes, bytes]:
    """Serialize an event frame around its seq: ``prefix + seq + suffix`` is the frame."""
    prefix = b'{"type":"event","topic":' + orjson.dumps(topic) + b',"seq":'
    body: dict[str, Any] = {
        "name": event.name,
        "data": event.data,
        "op_id": event.op_id,
        "actor": event.actor,
        "at": iso_ms(event.at_ms),
    }
    if batch is not None:
        body["batch"] = {"index": batch[0], "size": batch[1]}
    if event.audience is not None:
        body["audience"] = event.audience
    rest = orjson.dumps(body)
    return prefix, b"," + rest[1:]


async def append_event(conn: AsyncConnection, topic: str, event: NewEvent) -> tuple[int, bytes]:
    """Write one event with the topic's next seq; return the seq and the frame's bytes.

    The upsert of the topic's head row serialises writers per topic, so seqs are
    gap-free: a rolled-back writer takes its bump with it.
    """
    return await _append_one(conn, topic, event, None, None)


async def append_batch(
    conn: AsyncConnection,
    topic: str,
    batch: Sequence[NewEvent],
    write: RowWrite | None = None,
    op: OpRecord | None = None,
) -> list[bytes]:
    """Write ``write`` (if any), then one transaction's events on ``topic`` under
    consecutive seqs, then the op's reply (if any); return the frames.

    Each frame carries ``batch: {index, size}`` so a client can apply the whole
    change at once; the seqs are reserved in one statement and the rows written in one.
    A single event on PostgreSQL is one statement with the write and the reply.
    Raises ``StaleRowError`` when the write's row left its version (nothing is
    written), ``OpAlreadyAppliedError`` when the op was applied before.
    """
    if len(batch) == 1:
        return [(await _append_one(conn, topic, batch[0], write, op))[1]]
    await apply_write(conn, write)
    first = await _reserve(conn, topic, len(batch)) - len(batch) + 1
    frames, rows = [], []
    for index, event in enumerate(batch):
        prefix, suffix = frame_halves(event, topic, (index + 1, len(batch)))
        frame = prefix + str(first + index).encode() + suffix
        frames.append(frame)
        rows.append({**_row(topic, event), "seq": first + index, "frame": frame.decode()})
    await conn.execute(_INSERT_EVENT, rows)
    await record_reply(conn, op)
    return frames


async def _append_one(
    conn: AsyncConnection,
    topic: str,
    event: NewEvent,
    write: RowWrite | None,
    op: OpRecord | None,
) -> tuple[int, bytes]:
    prefix, suffix = frame_halves(event, topic, None)
    row = _row(topic, event)
    if conn.dialect.name != "postgresql":
        await apply_write(conn, write)
        seq = await _reserve(conn, topic, 1)
        frame = prefix + str(seq).encode() + suffix
        await write_count(conn, _INSERT_EVENT, {**row, "seq": seq, "frame": frame.decode()})
        await record_reply(conn, op)
        return seq, frame
    params = {**row, "prefix": prefix.decode(), "suffix": suffix.decode()}
    if write is None:  # the head and the event; the reply, if any, after them
        seq = int((await conn.execute(_APPEND_PG, params)).scalar_one())
        await record_reply(conn, op)
        return seq, prefix + str(seq).encode() + suffix
    keys = tuple(write.values)
    checked, with_op = write.version is not None, op is not None
    stmt = _write_and_append_pg(write.table, keys, checked, with_op, write.put_shapes())
    params.update(_write_params(write, op))
    try:
        if on_driver(conn):  # every timer transition's one statement
            shape = (write.table, keys, checked, with_op, tuple(t for t, _ in write.puts))
            written = await lane_of(conn).write(conn, stmt, shape, params)
        else:
            written = (await conn.execute(stmt, params)).scalar_one_or_none()
    except Exception as exc:
        if is_op_taken(exc):
            raise OpAlreadyAppliedError(op.op_id if op else "") from None
        raise
    if written is None:
        raise StaleRowError(write.ident)
    seq = int(written)
    return seq, prefix + str(seq).encode() + suffix


async def apply_write(conn: AsyncConnection, write: RowWrite | None) -> None:
    """Apply ``write`` (if any); ``StaleRowError`` when its row left the version it expects."""
    if write is None:
        return
    if not await update_row(conn, write.table, write.ident, write.values, write.version):
        raise StaleRowError(write.ident)
    for table, values in write.puts:
        await put_row(conn, table, values)


async def record_reply(conn: AsyncConnection, op: OpRecord | None) -> None:
    """Store the op's reply (if any); ``OpAlreadyAppliedError`` when the op was applied before."""
    if op is None:
        return
    if not await record_op(conn, op):
        raise OpAlreadyAppliedError(op.op_id)


def _row(topic: str, event: NewEvent) -> dict[str, Any]:
    return {
        "topic": topic,
        "name": event.name,
        "op_id": event.op_id,
        "actor": event.actor,
        "at": event.at_ms,
    }


async def _reserve(conn: AsyncConnection, topic: str, count: int) -> int:
    """Bump the topic's head by ``count`` and return the new head."""
    stmt = _BUMP_PG if conn.dialect.name == "postgresql" else _BUMP_SQLITE
    return int(await write_returning(conn, stmt, {"topic": topic, "count": count}))


async def read_events(
    conn: AsyncConnection, topic: str, after: int, upto: int | None = None, limit: int | None = None
) -> list[tuple[int, str]]:
    """Return ``(seq, frame)`` of ``topic``'s events after ``after`` (up to ``upto``), in order."""
    stmt = (
        select(events.c.seq, events.c.frame)
        .where(events.c.topic == topic, events.c.seq > after)
        .order_by(events.c.seq)
    )
    if upto is not None:
        stmt = stmt.where(events.c.seq <= upto)
    if limit is not None:
        stmt = stmt.limit(limit)
    return [(int(row.seq), row.frame) for row in await conn.execute(stmt)]


_HEADS = select(topic_heads.c.topic, topic_heads.c.seq)


async def get_heads(conn: AsyncConnection, topics: Iterable[str]) -> dict[str, int]:
    """Return each topic's current seq (0 for a topic with no events yet)."""
    wanted = list(topics)
    heads = dict.fromkeys(wanted, 0)
    if wanted:
        rows = await rows_one_of(conn, _HEADS, topic_heads.c.topic, wanted)
        heads.update({row["topic"]: int(row["seq"]) for row in rows})
    return heads


async def first_retained_seq(conn: AsyncConnection, topic: str) -> int | None:
    """Return the oldest seq still in the log for ``topic``, or None when none is."""
    stmt = select(func.min(events.c.seq)).where(events.c.topic == topic)
    value = (await conn.execute(stmt)).scalar_one()
    return None if value is None else int(value)


async def prune_events(conn: AsyncConnection, before_ms: int) -> int:
    """Delete events older than ``before_ms``; topic heads stay so seqs never restart."""
    result = await conn.execute(delete(events).where(events.c.at < before_ms))
    return int(result.rowcount or 0)


async def event_time(conn: AsyncConnection, topic: str, seq: int) -> int | None:
    """Return when event ``seq`` of ``topic`` was committed (Unix ms), or None if not retained."""
    stmt = select(events.c.at).where(events.c.topic == topic, events.c.seq == seq)
    value = (await conn.execute(stmt)).scalar_one_or_none()
    return None if value is None else int(value)
