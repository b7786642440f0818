"""Batched row writes (PostgreSQL): each change keeps the outcome of its own statement."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select, text

from server.domain.timers import logic
from server.storage.db import Database, create_engine
from server.storage.events import (
    NewEvent,
    RowWrite,
    StaleRowError,
    append_batch,
    read_events,
)
from server.storage.ops import OpAlreadyAppliedError, OpRecord, get_op_reply, record_op
from server.storage.tables import timer_history, timers
from server.storage.timers import get_timer, insert_timer
from server.storage.users import insert_user
from server.storage.write_lane import WriteLane, _Change, lane_for, lane_of

NOW = 1_700_000_000_000


def on_postgres(url: str) -> None:
    if not url.startswith("postgresql"):
        pytest.skip("the write lane serves PostgreSQL's one-statement writes")


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    on_postgres(database_url)
    database = Database(create_engine(database_url, pool_size=20))
    yield database
    await database.close()


async def lane(db: Database, batch_from: int = 0) -> WriteLane:
    """Return the database's lane, batching from ``batch_from`` writes under way."""
    async with db.one_statement() as tx:
        found = lane_of(tx.conn)
    found.batch_from = batch_from
    return found


async def seed(db: Database, users: int, per_user: int) -> list[dict[str, Any]]:
    """Create ``users`` users with ``per_user`` running timers each; return the rows."""
    rows = []
    async with db.transaction() as tx:
        for u in range(users):
            user = f"user-{u}"
            profile = {"id": user, "display_name": user, "email": None, "email_verified": False}
            await insert_user(tx.conn, profile, NOW)
            for _ in range(per_user):
                fields = {"allocated_ms": 60_000, "title": "t", "tag_ids": "[]"}
                row = logic.new_timer_values(str(uuid.uuid4()), user, fields, NOW)
                await insert_timer(tx.conn, row)
                rows.append(row)
    return rows


def change_of(row: dict[str, Any], op_id: str | None) -> tuple[str, NewEvent, RowWrite, Any]:
    """Return a pause of ``row`` at the version it has, as a timer transition writes it."""
    now = NOW + 1_000
    changes = logic.pause(row, now)
    entry = logic.history_entry(row, changes, now)
    assert entry is not None
    values = {**changes, "updated_at": now}
    write = RowWrite(timers, row["id"], values, row["version"], ((timer_history, entry),))
    view = {"id": row["id"], "status": "PAUSED"}
    event = NewEvent("timer.paused", view, op_id, row["owner_id"], now)
    op = None if op_id is None else OpRecord(row["owner_id"], op_id, "timer.pause", view, now)
    return f"user:{row['owner_id']}", event, write, op


async def seed_idle(db: Database, count: int) -> None:
    """Add ``count`` timers of one more user, and the table's statistics."""
    async with db.transaction() as tx:
        profile = {"id": "idle", "display_name": "idle", "email": None, "email_verified": False}
        await insert_user(tx.conn, profile, NOW)
        fields = {"allocated_ms": 60_000, "title": "t", "tag_ids": "[]"}
        values = [
            logic.new_timer_values(str(uuid.uuid4()), "idle", fields, NOW) for _ in range(count)
        ]
        await tx.conn.execute(timers.insert(), values)
    async with db.read() as conn:
        await conn.execute(text("ANALYZE timers"))


async def pause_all(
    dbs: list[Database], rows: list[dict[str, Any]], ops: list[str | None] | None = None
) -> list[Any]:
    """Pause every row at once, each on a connection of its own (of ``dbs`` in turn),
    all queued before any runs; return each seq, or the error it raised."""
    ops = ops or [None] * len(rows)
    async with contextlib.AsyncExitStack() as stack:
        conns = [
            (await stack.enter_async_context(dbs[n % len(dbs)].one_statement())).conn
            for n in range(len(rows))
        ]

        async def pause(conn: Any, row: dict[str, Any], op_id: str | None) -> int:
            topic, event, write, op = change_of(row, op_id)
            [frame] = await append_batch(conn, topic, [event], write, op)
            return int(orjson.loads(frame)["seq"])

        tasks = [
            asyncio.create_task(pause(conn, row, op))
            for conn, row, op in zip(conns, rows, ops, strict=True)
        ]
        return await asyncio.gather(*tasks, return_exceptions=True)


async def test_a_batch_writes_every_change_with_its_event_history_and_reply(db):
    found = await lane(db)
    rows = await seed(db, users=6, per_user=3)  # three changes per topic: batches split them
    ops: list[str | None] = [f"op-{n}" for n in range(len(rows))]
    seqs = await pause_all([db], rows, ops)
    assert lane_for(db.engine) is found
    assert found.counts() == (3, 18, 0)  # what /metrics exports
    async with db.read() as conn:
        for u in range(6):
            stored = await read_events(conn, f"user:user-{u}", 0)
            assert [seq for seq, _ in stored] == [1, 2, 3]  # gap-free, one event per change
            assert [orjson.loads(frame)["seq"] for _, frame in stored] == [1, 2, 3]
        for row, op, seq in zip(rows, ops, seqs, strict=True):
            timer = await get_timer(conn, row["owner_id"], row["id"])
            assert timer is not None
            assert (timer["status"], timer["version"]) == ("PAUSED", 2)
            assert await get_op_reply(conn, row["owner_id"], str(op)) is not None
            assert seq in (1, 2, 3)
        history = await conn.execute(select(func.count()).select_from(timer_history))
        assert history.scalar_one() == len(rows)


async def test_only_the_writes_past_batch_from_wait_for_a_batch(db):
    found = await lane(db, batch_from=4)
    rows = await seed(db, users=12, per_user=1)
    assert await pause_all([db], rows[:4]) == [1] * 4
    assert found.batches == 0  # four under way: each alone
    assert await pause_all([db], rows[4:]) == [1] * 8
    assert found.batches == 1  # the first four alone, the next four in one statement


async def test_a_change_at_a_stale_version_writes_nothing_and_the_others_land(db):
    found = await lane(db)
    rows = await seed(db, users=4, per_user=1)
    assert await pause_all([db], rows[:1]) == [1]  # the first timer moves on alone
    results = await pause_all([db], rows)  # ... and is paused again at its old version
    assert found.batches == 1
    assert isinstance(results[0], StaleRowError)
    assert results[1:] == [1, 1, 1]
    async with db.read() as conn:
        for row in rows:
            stored = await read_events(conn, f"user:{row['owner_id']}", 0)
            assert [seq for seq, _ in stored] == [1]
            timer = await get_timer(conn, row["owner_id"], row["id"])
            assert timer is not None
            assert timer["version"] == 2


async def test_a_taken_op_id_fails_only_its_own_change(db):
    found = await lane(db)
    rows = await seed(db, users=5, per_user=1)
    async with db.transaction() as tx:
        await record_op(tx.conn, OpRecord(rows[0]["owner_id"], "taken", "timer.pause", {}, NOW))
    ops: list[str | None] = ["taken", *(f"op-{n}" for n in range(1, len(rows)))]
    results = await pause_all([db], rows, ops)
    assert found.counts() == (0, 0, 1)  # refused whole, then each change ran on its own
    assert isinstance(results[0], OpAlreadyAppliedError)
    assert results[1:] == [1, 1, 1, 1]
    async with db.read() as conn:
        assert await read_events(conn, f"user:{rows[0]['owner_id']}", 0) == []
        first = await get_timer(conn, rows[0]["owner_id"], rows[0]["id"])
        assert first is not None
        assert first["version"] == 1
        for row in rows[1:]:
            assert len(await read_events(conn, f"user:{row['owner_id']}", 0)) == 1


async def test_two_instances_batching_the_same_rows_write_each_change_once(database_url):
    on_postgres(database_url)
    first, second = (Database(create_engine(database_url, pool_size=20)) for _ in range(2))
    try:
        lanes = [await lane(first), await lane(second)]
        rows = await seed(first, users=8, per_user=2)
        await seed_idle(first, 2_000)  # a table the planner reads by key, as in use
        # Every timer paused on both instances at once, at the version both read, the
        # second instance's changes queued in the opposite order.
        both = [first, second] * len(rows)
        ordered = [row for pair in zip(rows, reversed(rows), strict=True) for row in pair]
        results = await pause_all(both, ordered)
        assert [lane.batches for lane in lanes] == [2, 2]  # two timers per topic
        assert [lane.refused for lane in lanes] == [0, 0]  # no deadlock between them
        assert sum(isinstance(r, int) for r in results) == len(rows)
        assert sum(isinstance(r, StaleRowError) for r in results) == len(rows)
        async with first.read() as conn:
            for u in range(8):
                stored = await read_events(conn, f"user:user-{u}", 0)
                assert [seq for seq, _ in stored] == [1, 2]
    finally:
        await first.close()
        await second.close()


async def test_a_cancelled_change_keeps_its_connection_until_its_batch_ends(db):
    found = await lane(db)
    rows = await seed(db, users=6, per_user=1)
    go, holding = asyncio.Event(), []

    async def pause(row: dict[str, Any]) -> list[bytes]:
        async with db.one_statement() as tx:  # a cancelled block closes its connection
            holding.append(row)
            await go.wait()
            topic, event, write, op = change_of(row, None)
            return await append_batch(tx.conn, topic, [event], write, op)

    tasks = [asyncio.create_task(pause(row)) for row in rows]
    for _ in range(1_000):
        if len(holding) == len(rows):
            break
        await asyncio.sleep(0.001)
    go.set()  # all queue in one turn of the loop; the batch runs on the first's connection
    for _ in range(1_000):
        if found._runner is not None and not found._queue:
            break
        await asyncio.sleep(0)
    batches_when_it_ended = []
    tasks[0].add_done_callback(lambda _: batches_when_it_ended.append(found.batches))
    tasks[0].cancel()  # while its connection carries the batch
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(results[0], asyncio.CancelledError)
    assert batches_when_it_ended == [1]  # it gave its connection back after the batch
    assert all(isinstance(r, list) for r in results[1:])
    assert found.batches == 1
    async with db.read() as conn:
        for row in rows:  # the cancelled change too: its batch was written whole
            assert len(await read_events(conn, f"user:{row['owner_id']}", 0)) == 1


async def test_a_batch_takes_one_change_per_topic_and_row_of_one_shape():
    shape_a: Any = ("a",)
    shape_b: Any = ("b",)

    def change(topic: str, row: str, shape: Any = shape_a) -> _Change:
        return _Change(None, shape, {"topic": topic, "w_id": row})  # type: ignore[arg-type]

    found = WriteLane(batch_max=3)
    queued = [
        change("t1", "r1"),
        change("t1", "r2"),  # its topic is taken
        change("t2", "r1"),  # its row is taken
        change("t3", "r3", shape_b),  # another statement
        change("t4", "r4"),
        change("t5", "r5"),
        change("t6", "r6"),  # past batch_max
    ]
    found._queue.extend(queued)
    assert found._take() == [queued[0], queued[4], queued[5]]
    assert list(found._queue) == [queued[1], queued[2], queued[3], queued[6]]
