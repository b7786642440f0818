"""Meeting polls and their participants (with their cells).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "meetings",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("owner_id", sa.String(255), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("start_date", sa.String(10), nullable=False),
        sa.Column("end_date", sa.String(10), nullable=False),
        sa.Column("available_days", sa.String(20), nullable=False),
        sa.Column("start_time", sa.String(5), nullable=False),
        sa.Column("end_time", sa.String(5), nullable=False),
        sa.Column("time_slot_minutes", sa.Integer(), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("share_token", sa.String(64), nullable=False),
        sa.Column("visibility", sa.String(16), nullable=False, server_default="private"),
        sa.Column("visibility_rules", sa.Text(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_meetings"),
        sa.UniqueConstraint("share_token", name="uq_meetings_share_token"),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name="fk_meetings_owner_id_users", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_meetings_owner_id_created_at", "meetings", ["owner_id", "created_at"])
    op.create_table(
        "meeting_participants",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("meeting_id", sa.String(36), nullable=False),
        sa.Column("user_id", sa.String(255), nullable=True),
        sa.Column("token_hash", sa.String(64), nullable=True),
        sa.Column("display_name", sa.String(100), nullable=False),
        sa.Column("available", sa.Text(), nullable=False),
        sa.Column("if_need_be", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_meeting_participants"),
        sa.UniqueConstraint("token_hash", name="uq_meeting_participants_token_hash"),
        sa.UniqueConstraint(
            "meeting_id", "user_id", name="uq_meeting_participants_meeting_id_user_id"
        ),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["meetings.id"],
            name="fk_meeting_participants_meeting_id_meetings",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name="fk_meeting_participants_user_id_users",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_meeting_participants_user_id", "meeting_participants", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_meeting_participants_user_id", "meeting_participants")
    op.drop_table("meeting_participants")
    op.drop_index("ix_meetings_owner_id_created_at", "meetings")
    op.drop_table("meetings")
