"""The migrations build exactly the tables the code declares, on both databases."""

from __future__ import annotations

import sqlite3
import warnings

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
