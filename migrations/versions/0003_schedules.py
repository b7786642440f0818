"""Schedules, their overrides, and calendar feeds.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _owner(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["owner_id"], ["users.id"], name=f"fk_{table}_owner_id_users", ondelete="CASCADE"
    )


def _stamps() -> list[sa.Column]:
    return [
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("owner_id", sa.String(255), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("start_at", sa.BigInteger(), nullable=False),
        sa.Column("end_at", sa.BigInteger(), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("recurrence_rule", sa.String(500)),
        sa.Column("recurrence_end", sa.BigInteger()),
        sa.Column("last_end", sa.BigInteger()),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("tag_ids", sa.Text(), nullable=False),
        sa.Column("source_todo_id", sa.String(36)),
        *_stamps(),
        sa.PrimaryKeyConstraint("id", name="pk_schedules"),
        _owner("schedules"),
    )
    op.create_index("ix_schedules_owner_id_start_at", "schedules", ["owner_id", "start_at"])
    op.create_index("ix_schedules_source_todo_id", "schedules", ["source_todo_id"])
    op.create_table(
        "schedule_overrides",
        sa.Column("series_id", sa.String(36), nullable=False),
        sa.Column("original_start", sa.BigInteger(), nullable=False),
        sa.Column("owner_id", sa.String(255), nullable=False),
        sa.Column("cancelled", sa.Boolean(), nullable=False),
        sa.Column("start_at", sa.BigInteger(), nullable=False),
        sa.Column("end_at", sa.BigInteger(), nullable=False),
        sa.Column("title", sa.String(200)),
        sa.Column("description", sa.Text()),
        sa.Column("state", sa.String(16)),
        *_stamps(),
        sa.PrimaryKeyConstraint("series_id", "original_start", name="pk_schedule_overrides"),
        sa.ForeignKeyConstraint(
            ["series_id"],
            ["schedules.id"],
            name="fk_schedule_overrides_series_id_schedules",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_schedule_overrides_owner_id_start_at", "schedule_overrides", ["owner_id", "start_at"]
    )
    op.create_table(
        "calendar_feeds",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("owner_id", sa.String(255), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("rotated_at", sa.BigInteger()),
        sa.Column("revoked_at", sa.BigInteger()),
        sa.PrimaryKeyConstraint("id", name="pk_calendar_feeds"),
        _owner("calendar_feeds"),
        sa.UniqueConstraint("token_hash", name="uq_calendar_feeds_token_hash"),
    )
    op.create_index("ix_calendar_feeds_owner_id", "calendar_feeds", ["owner_id"])
    op.add_column("todos", sa.Column("deadline_schedule_id", sa.String(36)))


def downgrade() -> None:
    with op.batch_alter_table("todos") as batch:
        batch.drop_column("deadline_schedule_id")
    for table in ("calendar_feeds", "schedule_overrides", "schedules"):
        op.drop_table(table)
