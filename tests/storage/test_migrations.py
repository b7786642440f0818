"""The migrations build exactly the tables the code declares, on both databases."""

from __future__ import annotations

import warnings

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

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
