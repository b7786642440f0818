"""SQLite's writer runs statements on the loop's thread (its prebuilt writes on sqlite3
itself); a locked file is waited for off it."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import Boolean, Column, Integer, MetaData, Table, event, insert, text
from sqlalchemy.exc import OperationalError

from server.storage.db import Database, create_engine
from server.storage.rows import write_count, write_returning


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(create_engine(f"sqlite+aiosqlite:///{tmp_path / 'inline.db'}"))
    async with database.transaction() as tx:
        await tx.conn.execute(text("CREATE TABLE t (x INTEGER)"))
    yield database
    await database.close()


async def _thread_of(conn: object) -> int:
    raw = await conn.get_raw_connection()  # type: ignore[attr-defined]
    await raw.driver_connection.create_function("thread_id", 0, threading.get_ident)
    return int((await conn.execute(text("SELECT thread_id()"))).scalar_one())  # type: ignore[attr-defined]


async def test_writes_run_on_the_loop_thread_and_reads_on_a_worker(db: Database) -> None:
    async with db.transaction() as tx:
        assert await _thread_of(tx.conn) == threading.get_ident()
    async with db.read() as conn:
        assert await _thread_of(conn) != threading.get_ident()


async def test_a_locked_file_is_waited_for_off_the_loop(db: Database, tmp_path: Path) -> None:
    other = sqlite3.connect(tmp_path / "inline.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process's writer holds the lock
    other.execute("INSERT INTO t VALUES (1)")

    async def write() -> None:
        async with db.transaction() as tx:
            await tx.conn.execute(text("INSERT INTO t VALUES (2)"))

    writer = asyncio.create_task(write())
    loop = asyncio.get_running_loop()
    longest = 0.0
    for _ in range(30):  # the loop keeps turning while the write waits
        before = loop.time()
        await asyncio.sleep(0.01)
        longest = max(longest, loop.time() - before)
    assert not writer.done()
    assert longest < 0.2
    other.execute("COMMIT")
    await asyncio.wait_for(writer, 10)
    async with db.read() as conn:
        rows = (await conn.execute(text("SELECT x FROM t ORDER BY x"))).scalars().all()
    assert rows == [1, 2]
    other.close()


async def test_other_errors_are_raised_as_they_are(db: Database) -> None:
    with pytest.raises(OperationalError, match="no such table"):
        async with db.transaction() as tx:
            await tx.conn.execute(text("INSERT INTO missing VALUES (1)"))
    async with db.read() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar_one() == 0


async def test_autocommit_isolation_is_set_and_reset(db: Database) -> None:
    engine = db.engine.execution_options(isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text("INSERT INTO t VALUES (3)"))  # committed without COMMIT
    async with db.read() as conn:
        assert (await conn.execute(text("SELECT x FROM t"))).scalars().all() == [3]

    async def write_then_fail() -> None:
        async with db.transaction() as tx:
            await tx.conn.execute(text("INSERT INTO t VALUES (4)"))
            raise RuntimeError("roll back")

    with pytest.raises(RuntimeError):  # the pooled connection is transactional again
        await write_then_fail()
    async with db.read() as conn:
        assert (await conn.execute(text("SELECT x FROM t"))).scalars().all() == [3]


flags = Table("flags", MetaData(), Column("x", Integer), Column("on", Boolean))
_ADD_FLAG = insert(flags)
_ADD_FLAG_RETURNING = insert(flags).returning(flags.c.x)


@pytest.fixture
async def flags_db(db: Database) -> Database:
    async with db.transaction() as tx:
        await tx.conn.execute(text('CREATE TABLE flags (x INTEGER, "on" BOOLEAN)'))
    return db


async def _flags(db: Database) -> list[tuple[int, int]]:
    async with db.read() as conn:
        rows = await conn.execute(text('SELECT x, "on" FROM flags ORDER BY x'))
        return [tuple(row) for row in rows]


async def test_prebuilt_writes_skip_sqlalchemys_cursor_and_keep_its_conversions(
    flags_db: Database,
) -> None:
    seen: list[str] = []

    def note(_conn: object, _cursor: object, sql: str, *_: object) -> None:
        seen.append(sql)

    event.listen(flags_db.engine.sync_engine, "before_cursor_execute", note)
    try:
        async with flags_db.transaction() as tx:
            assert await write_count(tx.conn, _ADD_FLAG, {"x": 1, "on": True}) == 1
            assert await write_returning(tx.conn, _ADD_FLAG_RETURNING, {"x": 2, "on": False}) == 2
    finally:
        event.remove(flags_db.engine.sync_engine, "before_cursor_execute", note)
    assert not [sql for sql in seen if "flags" in sql]
    assert await _flags(flags_db) == [(1, 1), (2, 0)]


async def test_a_rolled_back_transaction_takes_the_direct_writes_with_it(
    flags_db: Database,
) -> None:
    async def write_then_fail() -> None:
        async with flags_db.transaction() as tx:
            await write_count(tx.conn, _ADD_FLAG, {"x": 1, "on": True})
            raise LookupError("the block fails after its write")

    with pytest.raises(LookupError):
        await write_then_fail()
    assert await _flags(flags_db) == []
