"""Friendships, and a visibility level (with its allow-lists) on timers, todos and schedules.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

SHAREABLE = ("timers", "todos", "schedules")


def upgrade() -> None:
    for table in SHAREABLE:
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column("visibility", sa.String(16), nullable=False, server_default="private")
            )
            batch.add_column(sa.Column("visibility_rules", sa.Text(), nullable=True))
            batch.create_index(f"ix_{table}_owner_id_visibility", ["owner_id", "visibility"])
    op.create_table(
        "friendships",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("user_low", sa.String(255), nullable=False),
        sa.Column("user_high", sa.String(255), nullable=False),
        sa.Column("requester_id", sa.String(255), nullable=False),
        sa.Column("addressee_id", sa.String(255), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("blocked_by", sa.String(255), nullable=True),
        sa.Column("block_low", sa.Boolean(), nullable=False),
        sa.Column("block_high", sa.Boolean(), nullable=False),
        sa.Column("accepted_at", sa.BigInteger(), nullable=True),
        sa.Column("via_email", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_friendships"),
        sa.UniqueConstraint("user_low", "user_high", name="uq_friendships_user_low_user_high"),
        sa.ForeignKeyConstraint(
            ["user_low"], ["users.id"], name="fk_friendships_user_low_users", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_high"], ["users.id"], name="fk_friendships_user_high_users", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_friendships_user_high", "friendships", ["user_high"])
    op.create_index("ix_users_email_lower", "users", [sa.text("lower(email)")])


def downgrade() -> None:
    op.drop_index("ix_users_email_lower", "users")
    op.drop_index("ix_friendships_user_high", "friendships")
    op.drop_table("friendships")
    for table in SHAREABLE:
        with op.batch_alter_table(table) as batch:
            batch.drop_index(f"ix_{table}_owner_id_visibility")
            batch.drop_column("visibility_rules")
            batch.drop_column("visibility")
