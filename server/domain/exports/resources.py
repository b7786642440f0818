"""What the account archive holds: one line per resource type, each written as its wire view.

Adding a type (meetings, say) is one more line in ``RESOURCES``: its file
name, table, which rows are the user's, their view, and the unique key its
batches are read in (best the columns of an index that starts with the
owner). A table that holds nobody's data, or only data already in another
file, is named in ``NOT_EXPORTED`` with the reason; a test fails for a table
in neither.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Table, or_, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from server.clock import iso_ms
from server.domain.friends.logic import friendship_view, hidden_from
from server.domain.meetings.views import detail_view, meeting_view
from server.domain.schedules.feeds import feed_view
from server.domain.schedules.views import schedule_view
from server.domain.tags.logic import group_view, tag_view
from server.domain.timers.logic import timer_view
from server.domain.timers.reads import histories_of
from server.domain.todos.logic import todo_view
from server.domain.users.views import user_view
from server.realtime.topics import user_topic
from server.storage.friendships import get_profiles, peer_of
from server.storage.tables import (
    calendar_feeds,
    events,
    friendships,
    meeting_participants,
    meetings,
    schedule_overrides,
    schedules,
    tag_groups,
    tags,
    timers,
    todos,
    users,
)

View = Callable[[RowMapping, int], dict[str, Any]]
Views = Callable[[AsyncConnection, str, Sequence[RowMapping], int], Awaitable[list[dict[str, Any]]]]
Owned = Callable[[str], ColumnElement[bool]]


@dataclass(frozen=True)
class Exported:
    """A resource type of the archive: its file, table, the user's rows, views and read order."""

    name: str
    table: Table
    owned: Owned
    views: Views
    key: tuple[str, ...] = ("id",)


def each(view: View) -> Views:
    """Turn a per-row view ``view(row, now)`` into a batch view."""

    async def views(
        _conn: AsyncConnection, _user: str, rows: Sequence[RowMapping], now: int
    ) -> list[dict[str, Any]]:
        return [view(row, now) for row in rows]

    return views


def own(name: str, table: Table, view: View, key: tuple[str, ...] = ("id",)) -> Exported:
    """Export a resource type whose rows name the user in ``owner_id``."""
    return Exported(name, table, lambda user_id: table.c.owner_id == user_id, each(view), key)


def timeless(view: Callable[[RowMapping], dict[str, Any]]) -> View:
    """Adapt a view that does not depend on the time of reading."""
    return lambda row, _now: view(row)


def profile_view(row: RowMapping, _now: int) -> dict[str, Any]:
    """View the user's own profile, email included."""
    return user_view(row, private=True)


def group_only(row: RowMapping, _now: int) -> dict[str, Any]:
    """View a tag group without its tags (tags.jsonl holds them)."""
    view = group_view(row, ())
    del view["tags"]
    return view


def override_view(row: RowMapping, _now: int) -> dict[str, Any]:
    """View a changed or cancelled occurrence of a series (null fields keep the series')."""
    return {
        "series_id": row["series_id"],
        "original_start": iso_ms(row["original_start"]),
        "cancelled": bool(row["cancelled"]),
        "start_time": iso_ms(row["start_at"]),
        "end_time": iso_ms(row["end_at"]),
        "title": row["title"],
        "description": row["description"],
        "state": row["state"],
        "created_at": iso_ms(row["created_at"]),
        "updated_at": iso_ms(row["updated_at"]),
        "version": row["version"],
    }


def event_view(row: RowMapping, _now: int) -> dict[str, Any]:
    """View a logged event as the user's devices got it (the routing key is internal)."""
    frame: dict[str, Any] = orjson.loads(row["frame"])
    frame.pop("audience", None)
    return frame


_CREATED = ("created_at", "id")


async def timer_views(
    conn: AsyncConnection, _user: str, rows: Sequence[RowMapping], now: int
) -> list[dict[str, Any]]:
    """View the user's timers whole, each with its pause history."""
    histories = await histories_of(conn, rows)
    return [timer_view(row, now, histories[row["id"]]) for row in rows]


async def friendship_views(
    conn: AsyncConnection, user_id: str, rows: Sequence[RowMapping], _now: int
) -> list[dict[str, Any]]:
    """View the user's friendships as they see them (a request by email hides from its asker)."""
    shown = [row for row in rows if not hidden_from(row, user_id)]
    profiles = await get_profiles(conn, (peer_of(row, user_id) for row in shown))
    return [friendship_view(row, user_id, profiles[peer_of(row, user_id)]) for row in shown]


def party_to(user_id: str) -> ColumnElement[bool]:
    """Select the friendships the user is a party to."""
    return or_(friendships.c.user_low == user_id, friendships.c.user_high == user_id)


def own_poll_view(row: RowMapping, _now: int) -> dict[str, Any]:
    """View one of the user's polls as its owner does (its link included)."""
    return meeting_view(row, owner=True)


def participant_in(row: RowMapping, _now: int) -> dict[str, Any]:
    """View a participant with its cells (never its token)."""
    return detail_view(row)


def in_own_polls(user_id: str) -> ColumnElement[bool]:
    """Select the participants of the user's polls: who answered, as the owner sees them."""
    owned = select(meetings.c.id).where(meetings.c.owner_id == user_id)
    return meeting_participants.c.meeting_id.in_(owned)


def own_topic(user_id: str) -> ColumnElement[bool]:
    """Select the events of the user's own topic (what their devices receive)."""
    return events.c.topic == user_topic(user_id)


RESOURCES: tuple[Exported, ...] = (
    Exported("profile", users, lambda user_id: users.c.id == user_id, each(profile_view)),
    own("tag_groups", tag_groups, group_only, _CREATED),
    own("tags", tags, timeless(tag_view)),
    Exported("timers", timers, lambda user_id: timers.c.owner_id == user_id, timer_views, _CREATED),
    own("todos", todos, timeless(todo_view), ("sort_key",)),
    own("schedules", schedules, timeless(schedule_view), ("start_at", "id")),
    own("schedule_overrides", schedule_overrides, override_view, ("series_id", "original_start")),
    own("calendar_feeds", calendar_feeds, timeless(feed_view)),
    Exported("friendships", friendships, party_to, friendship_views),
    own("meetings", meetings, own_poll_view, _CREATED),
    Exported("meeting_participants", meeting_participants, in_own_polls, each(participant_in)),
    Exported(
        "meeting_participations",
        meeting_participants,
        lambda user_id: meeting_participants.c.user_id == user_id,
        each(participant_in),
    ),
    Exported("events", events, own_topic, each(event_view), ("seq",)),
)

NOT_EXPORTED: dict[str, str] = {
    "tag_links": "an index of the tag_ids each timer, todo and schedule carries (in their files)",
    "op_replies": "answers kept a day to repeat them to a retried command; the events hold them",
    "timer_history": "each timer's pauses and resumes (in timers.jsonl as pause_history)",
    "topic_heads": "a counter per topic: the last seq, also the last event's",
    "meta": "the server's own settings (its epoch), nobody's data",
}
