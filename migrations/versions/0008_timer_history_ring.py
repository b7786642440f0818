"""Timer histories become a ring of 50 slots: entry n replaces entry n - 50.

Before, every 25th entry of a timer deleted those older than its newest 50 in a
statement of its own after the commit. Now an entry is written into slot n modulo
50 of its timer, replacing the one there: nothing is deleted, and a timer holds at
most 50 rows. The column ``n`` becomes ``slot`` (the primary key follows it).

Upgrade drops the entries beyond the newest 50 and takes each kept number modulo
50. The kept numbers are at most 50 consecutive ones, so their slots differ, and a
number that changes (50 or more) becomes one the deletion removed: no row meets
another's key on the way. Downgrade numbers each slot back from the timer's
``history_n`` (a slot that changes becomes 50 or more: above every slot).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

SLOTS = 50  # as server.domain.timers.logic.HISTORY_MAX when this was written
COUNT = "(SELECT history_n FROM timers WHERE timers.id = timer_history.timer_id)"


def upgrade() -> None:
    op.execute(f"DELETE FROM timer_history WHERE n <= {COUNT} - {SLOTS}")
    op.execute(f"UPDATE timer_history SET n = n % {SLOTS}")
    op.execute("ALTER TABLE timer_history RENAME COLUMN n TO slot")


def downgrade() -> None:
    # The entry in ``slot`` is the newest number at most history_n with that remainder.
    behind = f"((({COUNT} - slot) % {SLOTS}) + {SLOTS}) % {SLOTS}"
    op.execute(f"UPDATE timer_history SET slot = {COUNT} - {behind}")
    op.execute("ALTER TABLE timer_history RENAME COLUMN slot TO n")
