"""Lost races are retried: a deadlock runs the command again; a broken constraint ends in conflict."""

from __future__ import annotations

import ast
import asyncio
import logging
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select, text

from schema.errors import ErrorCode
from server.domain.context import retrying
from server.errors import ApiError
from server.settings import async_url
from server.state import STATE
from server.storage.db import create_engine
from server.storage.locks import lock_key
from server.storage.rows import write_count
from server.storage.tables import meta, tag_groups, topic_heads
from tests.conftest import PG_URL, requires_postgres

SERVER = Path(__file__).parents[2] / "server"


async def _waiting_locks(conn) -> int:
    stmt = text("SELECT count(*) FROM pg_locks WHERE NOT granted")
    return int((await conn.execute(stmt)).scalar_one())


@requires_postgres
async def test_a_deadlock_is_broken_and_the_command_runs_again(client, device, caplog):
    """The test holds ana's topic head, the command waits for it, then the test waits for
    ana's lock: a cycle the database breaks by aborting the command's transaction."""
    caplog.set_level(logging.INFO, logger="server.domain.context")
    ana = await device("ana")
    await ana.ok("tag_group.create", {"name": "first"})
    engine = create_engine(async_url(str(PG_URL)))
    async with engine.connect() as conn, engine.connect() as watcher:
        # The command's transaction detects the cycle first (1 s), so it is the one aborted.
        await conn.execute(text("SET deadlock_timeout = '10s'"))
        head = select(topic_heads).where(topic_heads.c.topic == "user:ana").with_for_update()
        await conn.execute(head)
        cid = await ana.send("tag_group.create", {"name": "second"})
        async with asyncio.timeout(5):
            while await _waiting_locks(watcher) == 0:  # noqa: ASYNC110 - polls the database
                await asyncio.sleep(0.01)
        lock = text("SELECT pg_advisory_xact_lock(:key)")
        await conn.execute(lock, {"key": lock_key("owner", "ana")})
        await conn.rollback()
    await engine.dispose()
    reply = await ana.result(cid, timeout=10)
    assert reply["ok"], reply
    assert "lost a race (transient), attempt 1" in caplog.text
    async with client.server.app[STATE].services.db.read() as db:
        count = (await db.execute(select(func.count()).select_from(tag_groups))).scalar_one()
    assert count == 2


_ADD_META = insert(meta)


async def _through_sqlalchemy(conn, value: str) -> None:
    await conn.execute(insert(meta).values(key="race", value=value))


async def _prebuilt(conn, value: str) -> None:
    # On SQLite this goes to sqlite3 itself (driver.run_inline): its own error must read
    # as a lost race as SQLAlchemy's does.
    await write_count(conn, _ADD_META, {"key": "race", "value": value})


@pytest.mark.parametrize("write", [_through_sqlalchemy, _prebuilt], ids=["sqlalchemy", "prebuilt"])
async def test_a_constraint_broken_twice_is_conflict_and_writes_nothing(client, write):
    services = client.server.app[STATE].services
    attempts = []

    @retrying
    async def insert_twice() -> None:
        attempts.append(1)
        async with services.db.transaction() as tx:
            await write(tx.conn, "1")
            await write(tx.conn, "2")

    with pytest.raises(ApiError) as caught:
        await insert_twice()
    assert caught.value.code == ErrorCode.CONFLICT
    assert caught.value.details == {"reason": "concurrent_change"}
    assert len(attempts) == 2
    async with services.db.read() as conn:
        assert (await conn.execute(select(meta).where(meta.c.key == "race"))).first() is None


def _opens_mutation(node: ast.AsyncFunctionDef) -> bool:
    return any(
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Name)
        and call.func.id in ("mutate", "mutate_read_row")
        for call in ast.walk(node)
    )


def test_every_action_that_opens_a_mutation_retries():
    missing = []
    for path in SERVER.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.AsyncFunctionDef) and _opens_mutation(node):
                names = [d.id for d in node.decorator_list if isinstance(d, ast.Name)]
                if "retrying" not in names and node.name not in ("mutate", "mutate_read_row"):
                    missing.append(f"{path.relative_to(SERVER)}:{node.name}")
    assert missing == []
    assert len(list(SERVER.rglob("*.py"))) > 50  # the walk saw the server
