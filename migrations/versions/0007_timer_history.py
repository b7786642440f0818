"""Timer pause histories move out of the timer's row into timer_history, a row per entry.

A pause used to write the timer's whole history again (up to 50 entries, ~3 KB,
compressed by PostgreSQL on every write); now it writes one small row. The
retained entries move in order, numbered 1..k, and the timer's ``history_n``
counts them.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BATCH = 1000
HISTORY_MAX = 50  # as server.domain.timers.logic.HISTORY_MAX when this was written

timers = sa.table(
    "timers",
    sa.column("id", sa.String),
    sa.column("pause_history", sa.Text),
    sa.column("history_n", sa.Integer),
)
timer_history = sa.table(
    "timer_history",
    sa.column("timer_id", sa.String),
    sa.column("n", sa.Integer),
    sa.column("entry", sa.Text),
)


def upgrade() -> None:
    op.create_table(
        "timer_history",
        sa.Column("timer_id", sa.String(36), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("entry", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("timer_id", "n", name="pk_timer_history"),
        sa.ForeignKeyConstraint(
            ["timer_id"],
            ["timers.id"],
            name="fk_timer_history_timer_id_timers",
            ondelete="CASCADE",
        ),
    )
    op.add_column(
        "timers", sa.Column("history_n", sa.Integer(), nullable=False, server_default="0")
    )
    conn = op.get_bind()
    found = conn.execute(
        sa.select(timers.c.id, timers.c.pause_history).where(timers.c.pause_history != "[]")
    )
    for rows in _batches(found.fetchall()):
        entries, counts = [], []
        for timer_id, history in rows:
            parsed = orjson.loads(history)
            entries += [
                {"timer_id": timer_id, "n": n, "entry": orjson.dumps(entry).decode()}
                for n, entry in enumerate(parsed, start=1)
            ]
            counts.append({"b_id": timer_id, "value": len(parsed)})
        conn.execute(timer_history.insert(), entries)
        _set_each(conn, timers.c.history_n, counts)
    _drop_column("timers", "pause_history")


def downgrade() -> None:
    op.add_column(
        "timers", sa.Column("pause_history", sa.Text(), nullable=False, server_default="[]")
    )
    conn = op.get_bind()
    found = conn.execute(
        sa.select(timer_history.c.timer_id, timer_history.c.entry).order_by(
            timer_history.c.timer_id, timer_history.c.n
        )
    )
    histories = [
        {"b_id": timer_id, "value": "[" + ",".join(e for _, e in entries) + "]"}
        for timer_id, group in itertools.groupby(found.fetchall(), key=lambda row: row[0])
        for entries in [list(group)[-HISTORY_MAX:]]
    ]
    for rows in _batches(histories):
        _set_each(conn, timers.c.pause_history, rows)
    _drop_column("timers", "history_n")
    op.drop_table("timer_history")


def _set_each(conn: sa.Connection, column: sa.ColumnClause[Any], rows: list[Any]) -> None:
    """Set ``column`` of each timer ``b_id`` to its ``value``."""
    stmt = timers.update().where(timers.c.id == sa.bindparam("b_id"))
    conn.execute(stmt.values({column.name: sa.bindparam("value")}), rows)


def _drop_column(table: str, column: str) -> None:
    """Drop a column in place (SQLite 3.35+ can): a batch copy of ``timers`` would drop
    the old table, and with foreign keys on that deletes its history rows with it."""
    op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")


def _batches(rows: Iterable[Any]) -> Iterable[list[Any]]:
    iterator = iter(rows)
    while batch := list(itertools.islice(iterator, BATCH)):
        yield batch
