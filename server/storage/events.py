"""The event log: per-topic seqs allocated in the writer's transaction."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from server.clock import iso_ms
from server.storage.tables import events, topic_heads


async def next_seq(conn: AsyncConnection, topic: str) -> int:
    """Bump and return ``topic``'s seq; the row lock serialises writers per topic."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(topic_heads).values(topic=topic, seq=1)
    stmt = stmt.on_conflict_do_update(
        index_elements=[topic_heads.c.topic], set_={"seq": topic_heads.c.seq + 1}
    ).returning(topic_heads.c.seq)
    return int((await conn.execute(stmt)).scalar_one())


async def append_event(
    conn: AsyncConnection,
    *,
    topic: str,
    name: str,
    data: Any,
    op_id: str | None,
    actor: str | None,
    at_ms: int,
) -> tuple[int, bytes]:
    """Write one event with the topic's next seq; return the seq and the frame's bytes."""
    seq = await next_seq(conn, topic)
    frame = orjson.dumps(
        {
            "type": "event",
            "topic": topic,
            "seq": seq,
            "name": name,
            "data": data,
            "op_id": op_id,
            "actor": actor,
            "at": iso_ms(at_ms),
        }
    )
    await conn.execute(
        events.insert().values(
            topic=topic,
            seq=seq,
            name=name,
            frame=frame.decode(),
            op_id=op_id,
            actor=actor,
            at=at_ms,
        )
    )
    return seq, frame


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
