"""The migrations build exactly the tables the code declares, on both databases."""

from __future__ import annotations

import asyncio
import os
import secrets
import sqlite3
import warnings
from collections.abc import AsyncIterator

import asyncpg
import orjson
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import make_url

from server.settings import async_url
from server.storage import migrate
from server.storage.db import create_engine
from server.storage.tables import metadata
from server.storage.timers import read_histories

HISTORY_MAX = 50  # the ring's size as migration 0008 made it
PG_URL = os.environ.get("TEST_DATABASE_URL")

EXPRESSION_INDEXES = {"ix_users_email_lower"}


async def test_migrated_schema_matches_the_tables(database_url):
    engine = create_engine(database_url)

    sqlite = engine.dialect.name == "sqlite"

    def include(obj, name, kind, reflected, compare_to):
        # SQLite's reflection cannot read expression indexes; checked by name below.
        return not (sqlite and kind == "index" and name in EXPRESSION_INDEXES)

    def diff(sync_conn):
        opts = {"compare_type": True, "include_object": include}
        context = MigrationContext.configure(sync_conn, opts=opts)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression")
            warnings.filterwarnings("ignore", ".*skipping metadata-specified expression-based")
            return compare_metadata(context, metadata)

    async with engine.connect() as conn:
        changes = await conn.run_sync(diff)
        if sqlite:
            found = await conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'index'"))
            assert {row.name for row in found} >= EXPRESSION_INDEXES
    await engine.dispose()
    assert changes == []


def test_holiday_calendars_arrive_empty_for_existing_users_and_leave_cleanly(tmp_path):
    path = tmp_path / "hipster.db"
    url = async_url(f"sqlite:///{path}")
    migrate.upgrade(url, "0004")
    with sqlite3.connect(path) as db:
        db.execute(
            "INSERT INTO users (id, display_name, email_verified, friend_code, timezone,"
            " created_at, updated_at, version) VALUES ('alice', 'Alice', 0, 'ABCDEFGHJK', 'UTC', 1, 1, 1)"
        )
    migrate.upgrade(url, "0005")
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT holiday_calendars FROM users").fetchall() == [("[]",)]
        indexes = {row[1] for row in db.execute("PRAGMA index_list(users)")}
        assert indexes >= EXPRESSION_INDEXES
    command.downgrade(migrate.alembic_config(url), "0004")
    with sqlite3.connect(path) as db:
        columns = {row[1] for row in db.execute("PRAGMA table_info(users)")}
        assert "holiday_calendars" not in columns
        assert db.execute("SELECT id FROM users").fetchall() == [("alice",)]
        indexes = {row[1] for row in db.execute("PRAGMA index_list(users)")}
        assert indexes >= EXPRESSION_INDEXES


def test_meetings_come_and_go_with_their_migration(tmp_path):
    path = tmp_path / "hipster.db"
    url = async_url(f"sqlite:///{path}")
    migrate.upgrade(url)
    tables = "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'meeting%'"
    with sqlite3.connect(path) as db:
        assert sorted(row[0] for row in db.execute(tables)) == ["meeting_participants", "meetings"]
    command.downgrade(migrate.alembic_config(url), "0005")
    with sqlite3.connect(path) as db:
        assert db.execute(tables).fetchall() == []
    migrate.upgrade(url)


def test_timer_histories_move_to_their_own_rows_and_back(tmp_path):
    path = tmp_path / "hipster.db"
    url = async_url(f"sqlite:///{path}")
    migrate.upgrade(url, "0006")
    entries = [
        {"action": "pause", "at": "2026-01-01T00:00:01.000Z", "elapsed_ms": 1000},
        {"action": "resume", "at": "2026-01-01T00:00:05.000Z", "elapsed_ms": 1000},
    ]
    history = orjson.dumps(entries).decode()
    with sqlite3.connect(path) as db:
        db.execute(
            "INSERT INTO users (id, display_name, email_verified, friend_code, timezone,"
            " created_at, updated_at, version) VALUES ('alice', 'Alice', 0, 'ABCDEFGHJK', 'UTC', 1, 1, 1)"
        )
        for ident, kept in (("t1", history), ("t2", "[]")):
            db.execute(
                "INSERT INTO timers (id, owner_id, title, description, tag_ids, allocated_ms,"
                " accumulated_ms, status, started_at, pause_history, due_fired, created_at,"
                " updated_at, version) VALUES (?, 'alice', '', '', '[]', 60000, 1000, 'RUNNING',"
                " 0, ?, 0, 0, 5000, 3)",
                (ident, kept),
            )
    migrate.upgrade(url, "0007")
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT timer_id, n, entry FROM timer_history ORDER BY n").fetchall()
        assert [(t, n, orjson.loads(e)) for t, n, e in rows] == [
            ("t1", 1, entries[0]),
            ("t1", 2, entries[1]),
        ]
        counts = db.execute("SELECT id, history_n FROM timers ORDER BY id").fetchall()
        assert counts == [("t1", 2), ("t2", 0)]
        columns = {row[1] for row in db.execute("PRAGMA table_info(timers)")}
        assert "pause_history" not in columns
    command.downgrade(migrate.alembic_config(url), "0006")
    with sqlite3.connect(path) as db:
        found = db.execute("SELECT id, pause_history FROM timers ORDER BY id").fetchall()
        assert [(ident, orjson.loads(kept)) for ident, kept in found] == [
            ("t1", entries),
            ("t2", []),
        ]
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
        assert "timer_history" not in tables


@pytest.fixture(params=["sqlite", "postgresql"])
async def bare_url(request, tmp_path) -> AsyncIterator[str]:
    """Give a test a database of its own with no schema, on each database."""
    if request.param == "sqlite":
        yield async_url(f"sqlite:///{tmp_path / 'hipster.db'}")
        return
    if PG_URL is None:
        pytest.skip("needs TEST_DATABASE_URL")
    url = make_url(async_url(PG_URL))
    name = "migration_" + secrets.token_hex(4)
    admin = await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, database="postgres"
    )
    try:
        await admin.execute(f"CREATE DATABASE {name}")
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()


async def run_sql(url: str, *statements: str) -> list[list[tuple]]:
    """Run ``statements`` in one transaction; return each one's rows (none for a write)."""
    engine = create_engine(url)
    found = []
    async with engine.begin() as conn:
        for statement in statements:
            result = await conn.execute(text(statement))
            found.append([tuple(row) for row in result] if result.returns_rows else [])
    await engine.dispose()
    return found


def entry(n: int) -> str:
    return orjson.dumps({"action": "pause" if n % 2 else "resume", "at": str(n)}).decode()


async def test_timer_histories_become_a_ring_and_back(bare_url):
    await asyncio.to_thread(migrate.upgrade, bare_url, "0007")
    # t1 counts 60 entries and holds 1..60 (pruning as before left up to 74 rows),
    # t2 counts 3, t3 none.
    kept = {"t1": range(1, 61), "t2": range(1, 4), "t3": range(0)}
    timers = [
        f"INSERT INTO timers (id, owner_id, title, description, tag_ids, allocated_ms,"
        f" accumulated_ms, status, started_at, due_fired, created_at, updated_at, version,"
        f" history_n) VALUES ('{ident}', 'alice', '', '', '[]', 60000, 0, 'PAUSED', 0,"
        f" false, 0, 0, 1, {len(numbers)})"
        for ident, numbers in kept.items()
    ]
    history = [
        f"INSERT INTO timer_history (timer_id, n, entry) VALUES ('{ident}', {n}, '{entry(n)}')"
        for ident, numbers in kept.items()
        for n in numbers
    ]
    await run_sql(
        bare_url,
        "INSERT INTO users (id, display_name, email_verified, friend_code, timezone,"
        " created_at, updated_at, version) VALUES ('alice', 'Alice', false, 'ABCDEFGHJK',"
        " 'UTC', 1, 1, 1)",
        *timers,
        *history,
    )
    await asyncio.to_thread(migrate.upgrade, bare_url, "0008")
    engine = create_engine(bare_url)
    async with engine.connect() as conn:
        shown = await read_histories(conn, {"t1": 60, "t2": 3, "t3": 0}, HISTORY_MAX)
    await engine.dispose()
    assert {ident: orjson.loads(found) for ident, found in shown.items()} == {
        "t1": [orjson.loads(entry(n)) for n in range(11, 61)],
        "t2": [orjson.loads(entry(n)) for n in range(1, 4)],
        "t3": [],
    }
    [slots] = await run_sql(bare_url, "SELECT timer_id, slot, entry FROM timer_history")
    assert sorted(slots) == sorted(
        [("t1", n % 50, entry(n)) for n in range(11, 61)] + [("t2", n, entry(n)) for n in (1, 2, 3)]
    )
    await asyncio.to_thread(command.downgrade, migrate.alembic_config(bare_url), "0007")
    [numbered] = await run_sql(bare_url, "SELECT timer_id, n, entry FROM timer_history")
    assert sorted(numbered) == sorted(
        [("t1", n, entry(n)) for n in range(11, 61)] + [("t2", n, entry(n)) for n in (1, 2, 3)]
    )
