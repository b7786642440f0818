"""The migrations build exactly the tables the code declares, on both databases."""

from __future__ import annotations

import sqlite3
import warnings

import orjson
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from server.settings import async_url
from server.storage import migrate
from server.storage.db import create_engine
from server.storage.tables import metadata

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
