"""Foundation: users, timers, the event log, topic heads, idempotency, meta.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "meta",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_meta"),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.String(255), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("avatar_url", sa.String(2048)),
        sa.Column("email", sa.String(320)),
        sa.Column("email_verified", sa.Boolean(), nullable=False),
        sa.Column("friend_code", sa.String(16), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("friend_code", name="uq_users_friend_code"),
    )
    _create_timers()
    op.create_table(
        "topic_heads",
        sa.Column("topic", sa.String(300), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("topic", name="pk_topic_heads"),
    )
    op.create_table(
        "events",
        sa.Column("id", BigId, nullable=False, autoincrement=True),
        sa.Column("topic", sa.String(300), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("frame", sa.Text(), nullable=False),
        sa.Column("op_id", sa.String(36)),
        sa.Column("actor", sa.String(255)),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
        sa.UniqueConstraint("topic", "seq", name="uq_events_topic_seq"),
    )
    op.create_index("ix_events_at", "events", ["at"])
    op.create_table(
        "op_replies",
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("op_id", sa.String(36), nullable=False),
        sa.Column("command", sa.String(64), nullable=False),
        sa.Column("reply", sa.Text()),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "op_id", name="pk_op_replies"),
    )
    op.create_index("ix_op_replies_created_at", "op_replies", ["created_at"])


def _create_timers() -> None:
    op.create_table(
        "timers",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("owner_id", sa.String(255), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("schedule_id", sa.String(36)),
        sa.Column("todo_id", sa.String(36)),
        sa.Column("tag_ids", sa.Text(), nullable=False),
        sa.Column("allocated_ms", sa.BigInteger(), nullable=False),
        sa.Column("accumulated_ms", sa.BigInteger(), nullable=False),
        sa.Column("segment_started_at", sa.BigInteger()),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", sa.BigInteger(), nullable=False),
        sa.Column("paused_at", sa.BigInteger()),
        sa.Column("ended_at", sa.BigInteger()),
        sa.Column("pause_history", sa.Text(), nullable=False),
        sa.Column("due_at", sa.BigInteger()),
        sa.Column("due_fired", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_timers"),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name="fk_timers_owner_id_users", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_timers_owner_id_created_at_id", "timers", ["owner_id", "created_at", "id"])
    op.create_index("ix_timers_owner_id_status", "timers", ["owner_id", "status"])
    op.create_index(
        "ix_timers_status_due_fired_due_at", "timers", ["status", "due_fired", "due_at"]
    )


def downgrade() -> None:
    for table in ("op_replies", "events", "topic_heads", "timers", "users", "meta"):
        op.drop_table(table)
