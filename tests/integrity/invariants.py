"""Invariants read back from the database after a race: what must hold whatever the interleaving."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import orjson
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from server.domain.meetings.grid import grid_of
from server.domain.timers.logic import HISTORY_MAX
from server.state import STATE
from server.storage.tables import (
    events,
    friendships,
    meeting_participants,
    meetings,
    schedules,
    tags,
    timer_history,
    timers,
    todos,
    users,
)
from server.storage.timers import read_histories
from tests.wsclient import Device

Command = tuple[str, dict[str, Any]]


async def race(
    first: Device, second: Device, a: Command, b: Command, op_id: str | None = None
) -> list[dict[str, Any]]:
    """Send two commands (with one ``op_id``, if given) from two devices at the same moment;
    return both result frames."""
    ids = await asyncio.gather(first.send(*a, op_id=op_id), second.send(*b, op_id=op_id))
    return list(await asyncio.gather(first.result(ids[0], 20), second.result(ids[1], 20)))


def codes(frames: list[dict[str, Any]]) -> list[str]:
    """Return "ok" or the error code of each result."""
    return ["ok" if f["ok"] else f["error"]["code"] for f in frames]


async def read_rows(client: TestClient[Any, Any], table: Any) -> list[dict[str, Any]]:
    """Return every row of ``table``."""
    async with client.server.app[STATE].services.db.read() as conn:
        return [dict(row) for row in (await conn.execute(select(table))).mappings()]


async def tree_violations(client: TestClient[Any, Any]) -> list[str]:
    """Return every broken tree rule: a missing parent, a parent in another group, a cycle."""
    rows = {row["id"]: row for row in await read_rows(client, todos)}
    found = []
    for ident, row in rows.items():
        parent = rows.get(row["parent_id"]) if row["parent_id"] else None
        if row["parent_id"] and parent is None:
            found.append(f"todo {ident} has a missing parent {row['parent_id']}")
        elif parent is not None and parent["tag_group_id"] != row["tag_group_id"]:
            found.append(f"todo {ident} has a parent in another group")
        seen, walk = {ident}, row
        while walk["parent_id"] and walk["parent_id"] in rows:
            if walk["parent_id"] in seen:
                found.append(f"todo {ident} is in a cycle")
                break
            seen.add(walk["parent_id"])
            walk = rows[walk["parent_id"]]
    return found


async def tag_violations(client: TestClient[Any, Any]) -> list[str]:
    """Return tag names used twice in one group (the constraint makes this impossible)."""
    seen: dict[tuple[str, str], str] = {}
    found = []
    for row in await read_rows(client, tags):
        key = (row["group_id"], row["name"].casefold())
        if key in seen:
            found.append(f"tags {seen[key]} and {row['id']} share a name")
        seen[key] = row["id"]
    return found


async def deadline_violations(client: TestClient[Any, Any]) -> list[str]:
    """Return todos whose deadline and generated schedule disagree (one schedule per deadline)."""
    rows = await read_rows(client, todos)
    generated: dict[str, list[str]] = {}
    for row in await read_rows(client, schedules):
        if row.get("source_todo_id"):
            generated.setdefault(row["source_todo_id"], []).append(row["id"])
    found = []
    for row in rows:
        made = generated.pop(row["id"], [])
        wanted = [row["deadline_schedule_id"]] if row["deadline"] is not None else []
        if sorted(made) != sorted(x for x in wanted if x):
            found.append(f"todo {row['id']} has schedules {made}, wants {wanted}")
    found += [f"schedules {ids} of a missing todo {todo}" for todo, ids in generated.items()]
    return found


async def friendship_violations(client: TestClient[Any, Any]) -> list[str]:
    """Return selected allow-lists naming someone who is not a friend of the owner."""
    friends = {
        frozenset((row["user_low"], row["user_high"]))
        for row in await read_rows(client, friendships)
        if row["status"] == "accepted"
    }
    found = []
    for table in (todos, schedules, meetings):
        for row in await read_rows(client, table):
            rules = orjson.loads(row["visibility_rules"]) if row["visibility_rules"] else {}
            for peer in rules.get("allowed_user_ids", []):
                if frozenset((row["owner_id"], peer)) not in friends:
                    found.append(f"{table.name} {row['id']} selects non-friend {peer}")
    return found


async def meeting_violations(client: TestClient[Any, Any]) -> list[str]:
    """Return stored cells that are not cells of their poll's grid, and users who joined twice."""
    polls = {row["id"]: grid_of(row) for row in await read_rows(client, meetings)}
    found, seen = [], set()
    for row in await read_rows(client, meeting_participants):
        starts = set(polls[row["meeting_id"]].starts)
        for tier in ("available", "if_need_be"):
            stray = [c for c in orjson.loads(row[tier]) if c not in starts]
            if stray:
                found.append(f"participant {row['id']} has {len(stray)} {tier} cells off the grid")
        if row["user_id"] is not None:
            key = (row["meeting_id"], row["user_id"])
            if key in seen:
                found.append(f"user {row['user_id']} joined {row['meeting_id']} twice")
            seen.add(key)
    return found


async def event_violations(client: TestClient[Any, Any], owner: str) -> list[str]:
    """Return events that disagree with the rows: one version, one content; the last is the row.

    A client keeps, per resource, the event with the highest version; that must be
    the row as committed, and no two events may carry one version with two contents.
    """
    async with client.server.app[STATE].services.db.read() as conn:
        stmt = select(events.c.frame).where(events.c.topic == f"user:{owner}")
        frames = [
            orjson.loads(row.frame) for row in await conn.execute(stmt.order_by(events.c.seq))
        ]
    latest: dict[str, dict[str, Any]] = {}
    found = []
    for frame in frames:
        data = frame["data"]
        if not frame["name"].startswith("todo.") or "version" not in data:
            continue
        held = latest.get(data["id"])
        if held is not None and held["version"] == data["version"] and held != data:
            found.append(f"two todo events carry version {data['version']} of {data['id']}")
        if held is None or data["version"] >= held["version"]:
            latest[data["id"]] = data
    for row in await read_rows(client, todos):
        seen = latest.get(row["id"])
        keys = ("version", "parent_id", "tag_group_id", "title")
        if seen is None or any(seen[k] != row[k] for k in keys):
            found.append(f"the latest event of todo {row['id']} is not its row")
    return found


async def history_violations(client: TestClient[Any, Any]) -> list[str]:
    """Return timers whose history is not the newest of one unbroken run ending at
    ``history_n`` (an entry lost, in the wrong slot, or written by a change that did
    not apply: then the entries' actions do not alternate or their times go back),
    and history rows of no timer."""
    counts = {row["id"]: row["history_n"] for row in await read_rows(client, timers)}
    slots: dict[str, list[int]] = {}
    for row in await read_rows(client, timer_history):
        slots.setdefault(row["timer_id"], []).append(row["slot"])
    found = [f"history rows of no timer {ident}" for ident in slots.keys() - counts.keys()]
    async with client.server.app[STATE].services.db.read() as conn:
        shown = await read_histories(conn, counts, HISTORY_MAX)
    for ident, last in counts.items():
        numbers = range(max(1, last - HISTORY_MAX + 1), last + 1)
        if sorted(slots.get(ident, [])) != sorted(n % HISTORY_MAX for n in numbers):
            found.append(f"timer {ident} counts {last} entries, holds slots {slots.get(ident)}")
        entries = orjson.loads(shown[ident])
        actions = [entry["action"] for entry in entries]
        times = [entry["at"] for entry in entries]
        if any(a == b for a, b in itertools.pairwise(actions)) or times != sorted(times):
            found.append(f"timer {ident}'s history is out of order: {entries}")
    return found


async def all_violations(client: TestClient[Any, Any], owner: str) -> list[str]:
    """Return every invariant broken in the database."""
    return [
        *await tree_violations(client),
        *await tag_violations(client),
        *await deadline_violations(client),
        *await friendship_violations(client),
        *await meeting_violations(client),
        *await event_violations(client, owner),
        *await history_violations(client),
    ]


async def user_ids(client: TestClient[Any, Any]) -> list[str]:
    """Return every user id."""
    return [row["id"] for row in await read_rows(client, users)]
