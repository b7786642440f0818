"""Pooled PostgreSQL connections the server closed are replaced, not handed to commands."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import asyncpg
from sqlalchemy import event, text
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from server.state import STATE
from tests.conftest import PG_URL, requires_postgres
from tests.wsclient import Device

pytestmark = requires_postgres


async def terminate_other_backends() -> int:
    """Make PostgreSQL end every other session on the test database (as a restart would)."""
    assert PG_URL is not None
    admin = await asyncpg.connect(PG_URL.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        ended = await admin.fetchval(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await admin.close()
    return int(ended)


async def at_once(dev: Device, commands: list[tuple[str, dict[str, Any]]]) -> list[Any]:
    """Send every command before reading any result (several pooled connections at once)."""
    sent = [await dev.send(name, data) for name, data in commands]
    return [await dev.result(cid) for cid in sent]


async def test_commands_after_the_database_ended_every_pooled_connection(device):
    dev = await device()
    started = await at_once(dev, [("timer.start", {"allocated_ms": 60_000})] * 6)
    await at_once(dev, [("timer.list", {})] * 6)
    assert await terminate_other_backends() >= 1
    await asyncio.sleep(0.2)  # the driver reads each socket's end
    pauses = [("timer.pause", {"id": r["data"]["id"]}) for r in started]
    replies = await at_once(dev, pauses + [("timer.list", {})] * 6)
    assert [r["ok"] for r in replies] == [True] * 12, [r.get("error") for r in replies]
    assert len((await dev.ok("timer.list", {}))["items"]) == 6


async def test_a_command_that_finds_every_connection_busy_is_told_to_come_back(start_server, token):
    server = await start_server(db_pool_size=1, db_pool_timeout_s=0.3)
    dev = await Device.connect(server, token())
    timer = await dev.ok("timer.start", {"allocated_ms": 60_000})
    db = server.server.app[STATE].services.db
    async with db.read():  # the pool's one connection
        error = await dev.error("timer.pause", {"id": timer["id"]})
        response = await server.get("/v1/timers", headers={"Authorization": f"Bearer {token()}"})
        rest = await response.json()
    assert (error["code"], error["details"]) == ("unavailable", {"retry_after_ms": 1000})
    assert (response.status, rest["error"]["code"]) == (503, "unavailable")
    assert (await dev.ok("timer.pause", {"id": timer["id"]}))["status"] == "PAUSED"


async def test_a_busy_pool_opens_its_connections_once_and_keeps_them(start_server, token):
    server = await start_server(db_pool_size=3)
    devices = [await Device.connect(server, token()) for _ in range(12)]
    timer = await devices[0].ok("timer.start", {"allocated_ms": 60_000})
    db = server.server.app[STATE].services.db
    engine = db.engine
    opened: list[object] = []
    before = engine.pool.checkedin() + db.kept_idle
    event.listen(engine.sync_engine, "connect", lambda conn, _record: opened.append(conn))
    for _ in range(10):  # a command on each of 12 connections at once, against 3
        sent = [await dev.send("timer.get", {"id": timer["id"]}) for dev in devices]
        for dev, cid in zip(devices, sent, strict=True):
            assert (await dev.result(cid))["ok"]
    # Every connection opened is still pooled or kept: none was opened and closed again.
    assert before + len(opened) == engine.pool.checkedin() + db.kept_idle <= 3


async def test_single_statements_reuse_a_kept_connection_without_a_pool_checkout(device, client):
    dev = await device()
    timer = await dev.ok("timer.start", {"allocated_ms": 60_000})
    engine = client.server.app[STATE].services.db.engine
    checkouts: list[object] = []
    event.listen(engine.sync_engine, "checkout", lambda *args: checkouts.append(args))
    for _ in range(10):
        await dev.ok("timer.get", {"id": timer["id"]})
        await dev.ok("timer.pause", {"id": timer["id"]})
        await dev.ok("timer.resume", {"id": timer["id"]})
    assert len(checkouts) <= 1, "reads and transitions went through the pool's checkout"
    # A kept connection the database closed is replaced, not used.
    assert await terminate_other_backends() >= 1
    await asyncio.sleep(0.2)
    assert (await dev.ok("timer.pause", {"id": timer["id"]}))["status"] == "PAUSED"


async def test_a_transaction_gets_the_connection_a_read_kept_idle(start_server, token):
    server = await start_server(db_pool_size=2, db_pool_timeout_s=0.5)
    dev = await Device.connect(server, token())
    timer = await dev.ok("timer.start", {"allocated_ms": 60_000})
    await dev.ok("timer.get", {"id": timer["id"]})  # its connection is kept, idle
    db = server.server.app[STATE].services.db
    assert db.kept_idle == 1
    async with db.transaction():  # the pool's other connection
        updated = await dev.ok("timer.update", {"id": timer["id"], "title": "a transaction"})
    assert updated["title"] == "a transaction"


async def test_a_transaction_waiting_for_the_pool_gets_the_connection_a_read_ends_with(
    start_server,
):
    server = await start_server(db_pool_size=1, db_pool_timeout_s=3.0)
    db = server.server.app[STATE].services.db

    async def one_transaction() -> int:
        async with db.transaction() as tx:
            return int((await tx.conn.execute(text("SELECT 1"))).scalar_one())

    async with db.read() as conn:  # the pool's one connection
        await conn.execute(text("SELECT 1"))
        waiting = asyncio.create_task(one_transaction())
        await asyncio.sleep(0.2)
        assert not waiting.done()
    # The read's connection goes to the waiting transaction, not to the kept ones
    # (where it would idle until the transaction's pool timeout).
    assert await asyncio.wait_for(waiting, 1.0) == 1
    assert db.kept_idle == 0


async def test_a_read_waiting_for_a_connection_gets_the_one_released_first(start_server):
    server = await start_server(db_pool_size=1, db_pool_timeout_s=3.0)
    db = server.server.app[STATE].services.db
    await asyncio.sleep(0.5)  # the pruner's first pass (a transaction) is over
    checkouts: list[object] = []

    def count_mine(*_args: object) -> None:
        task = asyncio.current_task()
        if task is not None and task.get_name() == "one read":
            checkouts.append(task)

    event.listen(db.engine.sync_engine, "checkout", count_mine)

    async def one_read() -> int:
        async with db.read() as conn:
            return int((await conn.execute(text("SELECT 1"))).scalar_one())

    for holder in (db.read, db.transaction):  # held by a read, then by a transaction
        async with holder():
            before = len(checkouts)
            waiting = asyncio.create_task(one_read(), name="one read")
            await asyncio.sleep(0.2)
            assert not waiting.done()
        assert await asyncio.wait_for(waiting, 1.0) == 1
        # From a read to the next without the pool; from a transaction through it.
        assert len(checkouts) - before == (0 if holder == db.read else 1)


async def test_a_released_connection_goes_to_the_block_waiting_longest(start_server):
    server = await start_server(db_pool_size=1, db_pool_timeout_s=2.0)
    db = server.server.app[STATE].services.db
    await asyncio.sleep(0.5)  # the pruner's first pass (a transaction) is over
    order: list[str] = []

    async def one_read(name: str) -> None:
        async with db.read() as conn:
            order.append(name)
            await conn.execute(text("SELECT 1"))

    async with db.read():  # the pool's one connection
        waiting = asyncio.create_task(one_read("waited"))
        await asyncio.sleep(0.2)
        assert not waiting.done()
    # Released: a block arriving in this same turn of the loop (a command read from
    # its socket at once) queues behind the one that waited, rather than taking it.
    await one_read("arrived as it was released")
    await asyncio.wait_for(waiting, 1.0)
    assert order == ["waited", "arrived as it was released"]


async def test_a_block_that_stops_waiting_passes_its_place_on(start_server):
    server = await start_server(db_pool_size=1, db_pool_timeout_s=2.0)
    db = server.server.app[STATE].services.db
    await asyncio.sleep(0.5)

    async def one_read() -> int:
        async with db.read() as conn:
            return int((await conn.execute(text("SELECT 1"))).scalar_one())

    async with db.read():
        gone = asyncio.create_task(one_read())
        after = asyncio.create_task(one_read())
        await asyncio.sleep(0.2)
        gone.cancel()  # cancelled in line: the connection released next goes on
        with contextlib.suppress(asyncio.CancelledError):
            await gone
    assert await asyncio.wait_for(after, 1.0) == 1
    assert await asyncio.wait_for(one_read(), 1.0) == 1


async def test_each_block_in_line_gives_up_at_its_own_deadline(start_server):
    server = await start_server(db_pool_size=1, db_pool_timeout_s=0.4)
    db = server.server.app[STATE].services.db
    await asyncio.sleep(0.5)
    clock = asyncio.get_running_loop().time
    gave_up: dict[str, float] = {}

    async def one_read(name: str) -> None:
        try:
            async with db.read():
                pass
        except PoolTimeoutError:
            gave_up[name] = clock()

    async with db.read():  # the pool's one connection, held throughout
        start = clock()
        first = asyncio.create_task(one_read("first"))
        await asyncio.sleep(0.2)
        second = asyncio.create_task(one_read("second"))
        await asyncio.wait_for(asyncio.gather(first, second), 3.0)
    # One timer serves the line: each wait still ends at its own deadline, not before.
    assert gave_up["first"] - start >= 0.39
    assert gave_up["second"] - start >= 0.59
    assert gave_up["first"] < gave_up["second"]
    async with db.read() as conn:  # and the line is usable afterwards
        assert (await conn.execute(text("SELECT 1"))).scalar_one() == 1
