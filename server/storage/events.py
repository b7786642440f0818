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
from server.storage.rows import update_row
from server.storage.tables import events, topic_heads

# PostgreSQL bumps the head and writes the event in one round trip; the frame's
# seq is spliced in by the database between the two halves Python serialized.
_HEAD_AND_EVENT = """
    head AS (
        INSERT INTO topic_heads (topic, seq) VALUES (:topic, 1)
        ON CONFLICT (topic) DO UPDATE SET seq = topic_heads.seq + 1
        RETURNING seq
    )
    INSERT INTO events (topic, seq, name, frame, op_id, actor, at)
    SELECT :topic, head.seq, :name,
           CAST(:prefix AS text) || head.seq::text || CAST(:suffix AS text),
           :op_id, :actor, :at
    FROM head
    RETURNING seq
"""
_APPEND_PG = text("WITH" + _HEAD_AND_EVENT)


@dataclass(frozen=True)
class RowWrite:
    """A row's changed fields, written with its version bumped (``Mutation.write_last``)."""

    table: Table
    ident: str
    values: dict[str, Any]


@functools.cache
def _write_and_append_pg(table: Table, keys: tuple[str, ...]) -> Any:
    """Build the statement that writes a row and appends one event: one round trip."""
    unknown = set(keys) - set(table.c.keys())
    if unknown:
        raise ValueError(f"{table.name} has no column {sorted(unknown)}")
    sets = ", ".join(f"{key} = :w_{key}" for key in keys)
    write = f"written AS (UPDATE {table.name} SET {sets}, version = version + 1 WHERE id = :w_id)"
    return text(f"WITH {write}, {_HEAD_AND_EVENT}")


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


async def append_event(
    conn: AsyncConnection, topic: str, event: NewEvent, write: RowWrite | None = None
) -> tuple[int, bytes]:
    """Write one event with the topic's next seq (after ``write``, if any); return the seq
    and the frame's bytes.

    The upsert of the topic's head row serialises writers per topic, so seqs are
    gap-free: a rolled-back writer takes its bump with it. On PostgreSQL the row
    write, the head and the event are one statement.
    """
    prefix, suffix = frame_halves(event, topic, None)
    row = _row(topic, event)
    if conn.dialect.name == "postgresql":
        params = {**row, "prefix": prefix.decode(), "suffix": suffix.decode()}
        stmt = _APPEND_PG
        if write is not None:
            stmt = _write_and_append_pg(write.table, tuple(write.values))
            params.update({f"w_{key}": value for key, value in write.values.items()})
            params["w_id"] = write.ident
        seq = int((await conn.execute(stmt, params)).scalar_one())
        return seq, prefix + str(seq).encode() + suffix
    if write is not None:
        await update_row(conn, write.table, write.ident, write.values)
    seq = await _reserve(conn, topic, 1)
    frame = prefix + str(seq).encode() + suffix
    await conn.execute(_INSERT_EVENT, {**row, "seq": seq, "frame": frame.decode()})
    return seq, frame


async def append_batch(
    conn: AsyncConnection, topic: str, batch: Sequence[NewEvent], write: RowWrite | None = None
) -> list[bytes]:
    """Write one transaction's events on ``topic`` under consecutive seqs (after ``write``,
    if any); return the frames.

    Each frame carries ``batch: {index, size}`` so a client can apply the whole
    change at once; the seqs are reserved in one statement and the rows written in one.
    """
    if len(batch) == 1:
        return [(await append_event(conn, topic, batch[0], write))[1]]
    if write is not None:
        await update_row(conn, write.table, write.ident, write.values)
    first = await _reserve(conn, topic, len(batch)) - len(batch) + 1
    frames, rows = [], []
    for index, event in enumerate(batch):
        prefix, suffix = frame_halves(event, topic, (index + 1, len(batch)))
        frame = prefix + str(first + index).encode() + suffix
        frames.append(frame)
        rows.append({**_row(topic, event), "seq": first + index, "frame": frame.decode()})
    await conn.execute(_INSERT_EVENT, rows)
    return frames


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
    return int((await conn.execute(stmt, {"topic": topic, "count": count})).scalar_one())


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


async def get_heads(conn: AsyncConnection, topics: Iterable[str]) -> dict[str, int]:
    """Return each topic's current seq (0 for a topic with no events yet)."""
    wanted = list(topics)
    heads = dict.fromkeys(wanted, 0)
    if wanted:
        stmt = select(topic_heads.c.topic, topic_heads.c.seq).where(topic_heads.c.topic.in_(wanted))
        heads.update({row.topic: int(row.seq) for row in await conn.execute(stmt)})
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
