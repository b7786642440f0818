"""Secret iCalendar feed URLs: created, rotated and revoked by commands; stored hashed."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from server.clock import iso_ms, iso_or_none
from server.domain.context import Actor, Mutation, Services, mutate, retrying
from server.domain.editing import load_owned
from server.domain.schedules.ical import (
    FeedOverride,
    FeedSchedule,
    FeedTooLargeError,
    render_feed,
)
from server.errors import ApiError, validation_error
from server.realtime.topics import user_topic
from server.storage import schedules as store
from server.storage.rows import insert_row
from server.storage.tables import calendar_feeds
from server.storage.users import get_user

MAX_LIVE_FEEDS = 10
# 32 random bytes, URL-safe: 43 characters.
TOKEN_BYTES = 32
FEED_PATH = "/v1/calendar/{token}.ics"


def hash_token(token: str) -> str:
    """Return the stored form of a feed token."""
    return hashlib.sha256(token.encode()).hexdigest()


def feed_view(
    row: Mapping[Any, Any], token: str | None = None, base: str | None = None
) -> dict[str, Any]:
    """Build the wire form of a feed; the token (and its URL) only when just made."""
    view = {
        "id": row["id"],
        "owner_id": row["owner_id"],
        "created_at": iso_ms(row["created_at"]),
        "rotated_at": iso_or_none(row["rotated_at"]),
        "revoked_at": iso_or_none(row["revoked_at"]),
    }
    if token is not None:
        view["token"] = token
        view["url"] = (base or "") + FEED_PATH.format(token=token)
    return view


@retrying
async def do_create_feed(services: Services, actor: Actor) -> dict[str, Any]:
    """Create a feed and answer its token, which is never shown again."""
    async with mutate(services, actor) as m:
        live = [f for f in await store.list_feeds(m.conn, actor.user_id) if f["revoked_at"] is None]
        if len(live) >= MAX_LIVE_FEEDS:
            raise validation_error(
                f"at most {MAX_LIVE_FEEDS} live calendar feeds; revoke one first"
            )
        token = secrets.token_urlsafe(TOKEN_BYTES)
        row = {
            "id": str(uuid.uuid4()),
            "owner_id": actor.user_id,
            "token_hash": hash_token(token),
            "created_at": m.now,
            "rotated_at": None,
            "revoked_at": None,
        }
        await insert_row(m.conn, calendar_feeds, row)
        m.emit(user_topic(actor.user_id), "calendar_feed.created", feed_view(row))
        # The reply kept for op_id replays has no token: the token is never stored.
        m.done(feed_view(row))
    return feed_view(row, token, services.settings.public_url)


@retrying
async def do_rotate_feed(services: Services, actor: Actor, feed_id: str) -> dict[str, Any]:
    """Give a live feed a new token; the old URL answers 404 from now on."""
    async with mutate(services, actor) as m:
        row = await _live(m, feed_id)
        token = secrets.token_urlsafe(TOKEN_BYTES)
        updated = await _write(m, row, {"token_hash": hash_token(token), "rotated_at": m.now})
        m.emit(user_topic(actor.user_id), "calendar_feed.rotated", feed_view(updated))
        m.done(feed_view(updated))
    return feed_view(updated, token, services.settings.public_url)


@retrying
async def do_revoke_feed(services: Services, actor: Actor, feed_id: str) -> dict[str, Any]:
    """Revoke a feed for good."""
    async with mutate(services, actor) as m:
        row = await _live(m, feed_id)
        updated = await _write(m, row, {"revoked_at": m.now})
        view = feed_view(updated)
        m.emit(user_topic(actor.user_id), "calendar_feed.revoked", view)
        return m.done(view)


async def list_feed_views(services: Services, owner_id: str) -> dict[str, Any]:
    """Return the owner's feeds, newest first, without tokens."""
    async with services.db.read() as conn:
        rows = await store.list_feeds(conn, owner_id)
    return {"items": [feed_view(r) for r in rows], "next_cursor": None}


async def render_feed_of(services: Services, token: str) -> bytes | None:
    """Render the calendar a live token names; None for an unknown or revoked token."""
    async with services.db.read() as conn:
        feed = await store.feed_by_hash(conn, hash_token(token))
    return None if feed is None else await render_calendar_of(services, feed["owner_id"])


async def render_calendar_of(services: Services, owner: str) -> bytes:
    """Render every schedule of ``owner`` as one iCalendar file (the feed's body).

    The feed and the export alike: over CALENDAR_FEED_MAX_INSTANTS it is
    validation_error, found before more than that many rows are read.
    """
    cap = services.settings.calendar_feed_max_instants
    async with services.db.read() as conn:
        user = await get_user(conn, owner)
        rows, overrides = await _feed_rows(conn, owner, cap)
    by_series: dict[str, list[FeedOverride]] = defaultdict(list)
    for o in overrides:
        by_series[o["series_id"]].append(_feed_override(o))
    name = f"{user['display_name'] if user else owner} (hipster-timer)"
    items = [_feed_schedule(r, tuple(by_series[r["id"]])) for r in rows]
    refresh = services.settings.calendar_refresh_minutes
    try:
        # Rendering a thousand series takes a third of a second in icalendar: off the loop.
        return await asyncio.to_thread(render_feed, name, items, refresh, cap)
    except FeedTooLargeError as exc:
        raise _too_big(exc.limit, exc.count) from None


async def _feed_rows(
    conn: AsyncConnection, owner: str, cap: int
) -> tuple[Sequence[RowMapping], Sequence[RowMapping]]:
    """Read the owner's schedules and overrides, refusing more than ``cap`` in all."""
    rows = await store.all_series(conn, owner, limit=cap + 1)
    if len(rows) > cap:
        raise _too_big(cap, len(rows))
    overrides = await store.all_overrides(conn, owner, limit=cap + 1 - len(rows))
    if len(rows) + len(overrides) > cap:
        raise _too_big(cap, len(rows) + len(overrides))
    return rows, overrides


def _too_big(limit: int, count: int) -> ApiError:
    return validation_error(
        f"the feed holds more than {limit} schedules and changed or cancelled occurrences,"
        " the most a feed holds; delete old schedules or occurrence changes, or ask the"
        " operator to raise CALENDAR_FEED_MAX_INSTANTS",
        limit=limit,
        count_at_least=count,
    )


def _feed_schedule(row: RowMapping, overrides: tuple[FeedOverride, ...]) -> FeedSchedule:
    return FeedSchedule(
        id=row["id"],
        title=row["title"],
        description=row["description"],
        start_ms=row["start_at"],
        end_ms=row["end_at"],
        timezone=row["timezone"],
        rule=row["recurrence_rule"],
        end_ms_recurrence=row["recurrence_end"],
        state=row["state"],
        created_at_ms=row["created_at"],
        updated_at_ms=row["updated_at"],
        overrides=overrides,
    )


def _feed_override(o: RowMapping) -> FeedOverride:
    return FeedOverride(
        original_start_ms=o["original_start"],
        cancelled=bool(o["cancelled"]),
        start_ms=o["start_at"],
        end_ms=o["end_at"],
        title=o["title"],
        description=o["description"],
        state=o["state"],
    )


async def _live(m: Mutation, feed_id: str) -> RowMapping:
    row = await load_owned(m, calendar_feeds, "calendar feed", feed_id)
    if row["revoked_at"] is not None:
        raise validation_error("the calendar feed is revoked", field="id")
    return row


async def _write(m: Mutation, row: RowMapping, changes: dict[str, Any]) -> dict[str, Any]:
    """Write feed columns (feeds carry no version or updated_at)."""
    stmt = update(calendar_feeds).where(calendar_feeds.c.id == row["id"]).values(**changes)
    await m.conn.execute(stmt)
    return {**row, **changes}
