"""SQLAlchemy Core tables: the Alembic target. Instants are Unix milliseconds."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite only autoincrements an INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")

meta = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("id", String(255), primary_key=True),
    Column("display_name", String(200), nullable=False),
    Column("avatar_url", String(2048)),
    Column("email", String(320)),
    Column("email_verified", Boolean, nullable=False, default=False),
    Column("friend_code", String(16), nullable=False, unique=True),
    Column("timezone", String(64), nullable=False, default="UTC"),
    # JSON list of {country, subdivision, language}: the holidays overlaid on schedules.
    Column("holiday_calendars", Text, nullable=False, default="[]", server_default="[]"),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("version", Integer, nullable=False, default=1),
)
# Friend requests by email look users up by their address in any case.
Index("ix_users_email_lower", func.lower(users.c.email))

timers = Table(
    "timers",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("owner_id", String(255), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("title", String(200), nullable=False, default=""),
    Column("description", Text, nullable=False, default=""),
    Column("schedule_id", String(36)),
    Column("todo_id", String(36)),
    Column("tag_ids", Text, nullable=False, default="[]"),
    Column("allocated_ms", BigInteger, nullable=False),
    Column("accumulated_ms", BigInteger, nullable=False, default=0),
    Column("segment_started_at", BigInteger),
    Column("status", String(16), nullable=False),
    Column("started_at", BigInteger, nullable=False),
    Column("paused_at", BigInteger),
    Column("ended_at", BigInteger),
    # How many pauses and resumes the timer has had: the last entry's n in timer_history.
    Column("history_n", Integer, nullable=False, default=0, server_default="0"),
    Column("due_at", BigInteger),
    Column("due_fired", Boolean, nullable=False, default=False),
    Column("visibility", String(16), nullable=False, default="private", server_default="private"),
    Column("visibility_rules", Text),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("version", Integer, nullable=False, default=1),
    Index(None, "owner_id", "created_at", "id"),
    Index(None, "owner_id", "status"),
    Index(None, "status", "due_fired", "due_at"),
    Index(None, "owner_id", "visibility"),
)

# A timer's newest pauses and resumes, a row each (``entry`` is its JSON object):
# the timer's ``pause_history``. Kept apart from the timer so a pause writes one
# small row, not the whole history again with the timer's. Entry n of the timer's
# ``history_n`` sits in ``slot`` n modulo HISTORY_MAX and replaces the entry there
# (a ring: no row is deleted, the table does not grow with use).
timer_history = Table(
    "timer_history",
    metadata,
    Column("timer_id", String(36), ForeignKey("timers.id", ondelete="CASCADE"), nullable=False),
    Column("slot", Integer, nullable=False),
    Column("entry", Text, nullable=False),
    PrimaryKeyConstraint("timer_id", "slot"),
)

# The per-topic head: one row per topic, bumped in the writer's transaction, so
# concurrent writers to one topic serialise on its row and seqs stay gap-free.
topic_heads = Table(
    "topic_heads",
    metadata,
    Column("topic", String(300), primary_key=True),
    Column("seq", BigInteger, nullable=False),
)

events = Table(
    "events",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("topic", String(300), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("name", String(64), nullable=False),
    Column("frame", Text, nullable=False),
    Column("op_id", String(36)),
    Column("actor", String(255)),
    Column("at", BigInteger, nullable=False),
    UniqueConstraint("topic", "seq"),
    Index(None, "at"),
)

op_replies = Table(
    "op_replies",
    metadata,
    Column("user_id", String(255), nullable=False),
    Column("op_id", String(36), nullable=False),
    Column("command", String(64), nullable=False),
    Column("reply", Text),
    Column("created_at", BigInteger, nullable=False),
    PrimaryKeyConstraint("user_id", "op_id"),
    Index(None, "created_at"),
)

tag_groups = Table(
    "tag_groups",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("owner_id", String(255), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("color", String(7), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("goal_ratios", Text, nullable=False, default="{}"),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("version", Integer, nullable=False, default=1),
    Index(None, "owner_id", "created_at"),
)

# name_key is the name case-folded: tag names are unique per group whatever their case.
tags = Table(
    "tags",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("owner_id", String(255), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("group_id", String(36), ForeignKey("tag_groups.id"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("name_key", String(100), nullable=False),
    Column("color", String(7), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("version", Integer, nullable=False, default=1),
    UniqueConstraint("group_id", "name_key"),
    Index(None, "owner_id"),
)

# parent_id has no foreign key: the domain keeps the tree whole (children are
# promoted before a parent goes) and checks cycles, which a key cannot.
todos = Table(
    "todos",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("owner_id", String(255), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("tag_group_id", String(36), ForeignKey("tag_groups.id"), nullable=False),
    Column("parent_id", String(36)),
    Column("title", String(200), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("deadline", BigInteger),
    Column("status", String(16), nullable=False),
    Column("tag_ids", Text, nullable=False, default="[]"),
    # The list order as one key (see storage/todos.sort_key): pages are index ranges.
    Column("sort_key", String(96), nullable=False),
    # The schedule generated from the deadline (see domain/deadlines.py).
    Column("deadline_schedule_id", String(36)),
    Column("visibility", String(16), nullable=False, default="private", server_default="private"),
    Column("visibility_rules", Text),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("version", Integer, nullable=False, default=1),
    Index(None, "owner_id", "sort_key"),
    # Covers the group filter and the counts by status without reading rows.
    Index(None, "owner_id", "tag_group_id", "status"),
    Index(None, "parent_id"),
    Index(None, "owner_id", "visibility"),
)

# Which resources carry which tag: the index behind tag filters, stats, and
# unlinking a deleted tag. The resource's own tag_ids column keeps the order
# the client gave and is what views read.
tag_links = Table(
    "tag_links",
    metadata,
    Column("tag_id", String(36), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("resource_id", String(36), nullable=False),
    Column("owner_id", String(255), nullable=False),
    PrimaryKeyConstraint("tag_id", "kind", "resource_id"),
    Index(None, "kind", "resource_id"),
    Index(None, "owner_id", "kind", "tag_id"),
)

# A schedule is a series: with a rule it recurs in its own zone. last_end bounds
# when its last occurrence ends (null: never), so window queries skip finished
# series without expanding them.
schedules = Table(
    "schedules",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("owner_id", String(255), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("title", String(200), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("start_at", BigInteger, nullable=False),
    Column("end_at", BigInteger, nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("recurrence_rule", String(500)),
    Column("recurrence_end", BigInteger),
    Column("last_end", BigInteger),
    Column("state", String(16), nullable=False),
    Column("tag_ids", Text, nullable=False, default="[]"),
    Column("source_todo_id", String(36)),
    Column("visibility", String(16), nullable=False, default="private", server_default="private"),
    Column("visibility_rules", Text),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("version", Integer, nullable=False, default=1),
    Index(None, "owner_id", "start_at"),
    Index(None, "source_todo_id"),
    Index(None, "owner_id", "visibility"),
)

# One changed or cancelled occurrence of a series, keyed by its original start.
# start_at is indexed so an occurrence moved to another day is found by windows
# that contain its new time.
schedule_overrides = Table(
    "schedule_overrides",
    metadata,
    Column("series_id", String(36), ForeignKey("schedules.id", ondelete="CASCADE"), nullable=False),
    Column("original_start", BigInteger, nullable=False),
    Column("owner_id", String(255), nullable=False),
    Column("cancelled", Boolean, nullable=False, default=False),
    Column("start_at", BigInteger, nullable=False),
    Column("end_at", BigInteger, nullable=False),
    Column("title", String(200)),
    Column("description", Text),
    Column("state", String(16)),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("version", Integer, nullable=False, default=1),
    PrimaryKeyConstraint("series_id", "original_start"),
    Index(None, "owner_id", "start_at"),
)

# Secret iCalendar feed URLs: only the SHA-256 of the token is kept.
calendar_feeds = Table(
    "calendar_feeds",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("owner_id", String(255), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", BigInteger, nullable=False),
    Column("rotated_at", BigInteger),
    Column("revoked_at", BigInteger),
    Index(None, "owner_id"),
)


# One row per unordered pair (user_low < user_high). A block is a flag per side,
# so a counter-block does not erase the first; blocked_by names the first blocker.
friendships = Table(
    "friendships",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("user_low", String(255), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("user_high", String(255), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("requester_id", String(255), nullable=False),
    Column("addressee_id", String(255), nullable=False),
    Column("status", String(16), nullable=False),
    Column("blocked_by", String(255)),
    Column("block_low", Boolean, nullable=False, default=False),
    Column("block_high", Boolean, nullable=False, default=False),
    Column("accepted_at", BigInteger),
    # Asked by email: hidden from its requester until answered, so that asking
    # reveals nothing about whether the address belongs to anyone.
    Column("via_email", Boolean, nullable=False, default=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("version", Integer, nullable=False, default=1),
    UniqueConstraint("user_low", "user_high"),
    Index(None, "user_high"),
)

# A meeting poll. Its grid lives in the poll's zone; share_token is the link
# (kept as is: the owner reads it back), unique so a link names one poll.
meetings = Table(
    "meetings",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("owner_id", String(255), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("title", String(200), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("start_date", String(10), nullable=False),
    Column("end_date", String(10), nullable=False),
    Column("available_days", String(20), nullable=False),
    Column("start_time", String(5), nullable=False),
    Column("end_time", String(5), nullable=False),
    Column("time_slot_minutes", Integer, nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("share_token", String(64), nullable=False, unique=True),
    Column("visibility", String(16), nullable=False, default="private", server_default="private"),
    Column("visibility_rules", Text),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("version", Integer, nullable=False, default=1),
    Index(None, "owner_id", "created_at"),
)

# Someone in a poll: a user (user_id, once per poll) or a guest (token_hash, the
# SHA-256 of the token shown once at join). A participant's cells are two JSON
# lists of cell starts (UTC ms): read whole with the row, replaced whole.
meeting_participants = Table(
    "meeting_participants",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("meeting_id", String(36), ForeignKey("meetings.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", String(255), ForeignKey("users.id", ondelete="CASCADE")),
    Column("token_hash", String(64), unique=True),
    Column("display_name", String(100), nullable=False),
    Column("available", Text, nullable=False, default="[]"),
    Column("if_need_be", Text, nullable=False, default="[]"),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("version", Integer, nullable=False, default=1),
    UniqueConstraint("meeting_id", "user_id"),
    Index(None, "user_id"),
)
