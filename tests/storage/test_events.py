"""The event log: gap-free per-topic seqs under concurrent writers, retention."""

from __future__ import annotations

import asyncio
import contextlib

import orjson
import pytest
from sqlalchemy import select

from server.storage.db import Database, create_engine
from server.storage.events import (
    NewEvent,
    _write_and_append_pg,
    append_batch,
    append_event,
    get_heads,
    prune_events,
    read_events,
)
from server.storage.ops import OpRecord, get_op_reply, prune_ops, record_op
from server.storage.tables import events, timer_history, timers


@pytest.fixture
async def db(database_url):
    database = Database(create_engine(database_url, pool_size=10))
    yield database
    await database.close()


async def append(db: Database, topic: str, at: int = 1, fail: bool = False) -> int:
    async with db.transaction() as tx:
        seq, _ = await append_event(
            tx.conn, topic, NewEvent("timer.updated", {"n": 1}, None, "u", at)
        )
        await asyncio.sleep(0)
        if fail:
            raise RuntimeError("roll back")
    return seq


async def test_concurrent_writers_get_gap_free_increasing_seqs(db):
    async def writer(topic: str, fail_every: int) -> list[int]:
        seqs = []
        for i in range(25):
            with contextlib.suppress(RuntimeError):
                seqs.append(await append(db, topic, fail=i % fail_every == 0))
        return seqs

    results = await asyncio.gather(*(writer(t, 5) for t in ["user:a", "user:b"] * 5))
    for topic in ("user:a", "user:b"):
        async with db.read() as conn:
            rows = (await conn.execute(select(events.c.seq).where(events.c.topic == topic))).all()
        stored = sorted(row.seq for row in rows)
        assert stored == list(range(1, len(stored) + 1))
        assert len(stored) == 5 * 20
    for seqs in results:
        assert seqs == sorted(seqs)


async def test_rolled_back_event_leaves_no_gap(db):
    assert await append(db, "user:x") == 1
    with pytest.raises(RuntimeError):
        await append(db, "user:x", fail=True)
    assert await append(db, "user:x") == 2


async def test_read_events_returns_frames_in_order(db):
    for _ in range(5):
        await append(db, "user:x")
    async with db.read() as conn:
        rows = await read_events(conn, "user:x", 1, 4)
        assert [seq for seq, _ in rows] == [2, 3, 4]
        assert '"seq":2' in rows[0][1]
        assert await get_heads(conn, ["user:x", "user:none"]) == {"user:x": 5, "user:none": 0}


async def test_pruning_keeps_the_head_so_seqs_never_restart(db):
    await append(db, "user:x", at=100)
    await append(db, "user:x", at=200)
    async with db.transaction() as tx:
        assert await prune_events(tx.conn, 150) == 1
    assert await append(db, "user:x", at=300) == 3


async def test_op_replies_are_once_per_user(db):
    async with db.transaction() as tx:
        assert await record_op(tx.conn, OpRecord("u", "op-1", "timer.start", {"id": "t"}, 1))
    async with db.transaction() as tx:
        assert not await record_op(tx.conn, OpRecord("u", "op-1", "timer.start", {"id": "x"}, 2))
        assert await record_op(tx.conn, OpRecord("v", "op-1", "timer.start", {"id": "v"}, 2))
    async with db.read() as conn:
        assert await get_op_reply(conn, "u", "op-1") == ("timer.start", {"id": "t"})
    async with db.transaction() as tx:
        assert await prune_ops(tx.conn, 2) == 1
    async with db.read() as conn:
        assert await get_op_reply(conn, "u", "op-1") is None


async def test_a_batch_takes_consecutive_seqs_and_says_its_size(db):
    await append(db, "user:x")
    batch = [NewEvent("timer.updated", {"n": n}, "op", "u", 5) for n in range(3)]
    async with db.transaction() as tx:
        frames = await append_batch(tx.conn, "user:x", batch)
    async with db.read() as conn:
        stored = await read_events(conn, "user:x", 1)
        assert await get_heads(conn, ["user:x"]) == {"user:x": 4}
    assert [seq for seq, _ in stored] == [2, 3, 4]
    assert [frame for _, frame in stored] == [f.decode() for f in frames]
    parsed = [orjson.loads(f) for f in frames]
    assert [p["batch"] for p in parsed] == [{"index": i, "size": 3} for i in (1, 2, 3)]
    assert [p["data"] for p in parsed] == [{"n": 0}, {"n": 1}, {"n": 2}]


def test_a_put_replaces_the_row_under_its_key_and_gives_every_column():
    entry = ("timer_id", "slot", "entry")
    stmt = str(_write_and_append_pg(timers, ("status",), True, False, ((timer_history, entry),)))
    assert "ON CONFLICT (timer_id, slot) DO UPDATE SET entry = EXCLUDED.entry" in stmt
    with pytest.raises(ValueError, match="every column"):
        _write_and_append_pg(timers, ("status",), True, False, ((timer_history, entry[:2]),))
    with pytest.raises(ValueError, match="no column"):
        _write_and_append_pg(timers, ("status",), True, False, ((timer_history, ("n", *entry)),))
