"""The holiday calendars a user overlays on their schedules.

Plain ALTER TABLE on both databases (SQLite adds and drops columns in place
since 3.35): batch mode would reflect ``users`` first, and SQLite's reflection
cannot read its expression index (a warning, and an index a table copy drops).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "users", sa.Column("holiday_calendars", sa.Text(), nullable=False, server_default="[]")
    )


def downgrade() -> None:
    op.drop_column("users", "holiday_calendars")
