"""The event log: per-topic seqs allocated in the writer's transaction."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import bindparam, delete, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from server.clock import iso_ms
from server.storage.tables import events, topic_heads

# PostgreSQL bumps the head and writes the event in one round trip; the frame's
# seq is spliced in by the database between the two halves Python serialized.
_APPEND_PG = text(
    """
    WITH head AS (
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
)


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
    prefix, suffix = frame_halves(event, topic, None)
    row = _row(topic, event)
    if conn.dialect.name == "postgresql":
        params = {**row, "prefix": prefix.decode(), "suffix": suffix.decode()}
        seq = int((await conn.execute(_APPEND_PG, params)).scalar_one())
        return seq, prefix + str(seq).encode() + suffix
    seq = await _reserve(conn, topic, 1)
    frame = prefix + str(seq).encode() + suffix
    await conn.execute(_INSERT_EVENT, {**row, "seq": seq, "frame": frame.decode()})
    return seq, frame


async def append_batch(conn: AsyncConnection, topic: str, batch: Sequence[NewEvent]) -> list[bytes]:
    """Write one transaction's events on ``topic`` under consecutive seqs; return the frames.

    Each frame carries ``batch: {index, size}`` so a client can apply the whole
    change at once; the seqs are reserved in one statement and the rows written in one.
    """
    if len(batch) == 1:
        return [(await append_event(conn, topic, batch[0]))[1]]
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
