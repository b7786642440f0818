"""Seeding timers at known instants (through the real transitions) and reading exports."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import orjson
from aiohttp.test_utils import TestClient
from sqlalchemy import insert

from server.clock import to_ms
from server.domain.timers.logic import finish, history_entry, new_timer_values, pause, resume
from server.state import STATE
from server.storage.tables import tag_links, timer_history, timers

MOVES = {
    "pause": pause,
    "resume": resume,
    "stop": lambda row, now: finish(row, now, "COMPLETED"),
    "cancel": lambda row, now: finish(row, now, "CANCELLED"),
}


# The key of a built row's history entries (timer_history rows, not a timers column).
HISTORY = "history"


def without_history(row: dict[str, Any]) -> dict[str, Any]:
    """Return a built row's timers columns."""
    return {key: value for key, value in row.items() if key != HISTORY}


def ms(text: str) -> int:
    return to_ms(datetime.fromisoformat(text))


def timer_row(owner: str, start: str, *steps: tuple[str, str], **fields: Any) -> dict[str, Any]:
    """Build a timer row started at ``start`` and moved by ``steps`` ((action, instant) pairs)."""
    values = {
        "allocated_ms": 1_500_000,
        "title": "",
        "description": "",
        "schedule_id": None,
        "todo_id": None,
        **fields,
    }
    values["tag_ids"] = orjson.dumps(values.get("tag_ids", [])).decode()
    row = new_timer_values(str(uuid.uuid4()), owner, values, ms(start))
    history = []
    for action, at in steps:
        changes = MOVES[action](row, ms(at))
        entry = history_entry(row, changes, ms(at))
        history += [entry] if entry else []
        row = {**row, **changes}
    return {**row, HISTORY: history}


async def put_timers(client: TestClient[Any, Any], rows: list[dict[str, Any]]) -> None:
    """Insert timer rows and their tag links, as timer.start would (in one statement each)."""
    links = [
        {"tag_id": tag, "kind": "timer", "resource_id": row["id"], "owner_id": row["owner_id"]}
        for row in rows
        for tag in orjson.loads(row["tag_ids"])
    ]
    entries = [entry for row in rows for entry in row[HISTORY]]
    async with client.server.app[STATE].services.db.transaction() as tx:
        await tx.conn.execute(insert(timers), [without_history(row) for row in rows])
        if entries:
            await tx.conn.execute(insert(timer_history), entries)
        if links:
            await tx.conn.execute(insert(tag_links), links)


async def put_timer(
    client: TestClient[Any, Any], owner: str, start: str, *steps: tuple[str, str], **fields: Any
) -> dict[str, Any]:
    """Insert one timer (see timer_row) and return its row."""
    row = timer_row(owner, start, *steps, **fields)
    await put_timers(client, [row])
    return row


def csv_rows(body: bytes) -> list[dict[str, str]]:
    """Parse a CSV export into dicts keyed by its header."""
    return list(csv.DictReader(io.StringIO(body.decode("utf-8"), newline="")))


def jsonl_rows(body: bytes) -> list[dict[str, Any]]:
    """Parse a JSON Lines export."""
    return [orjson.loads(line) for line in body.splitlines()]


class SecondReadProbe:
    """Wrap an export's batch read: the second one waits 0.2 s (long enough to cut
    the export under it), and each one's outcome is kept ("read" or "cancelled").

    A read cancelled inside aiosqlite has SQLAlchemy close its connection through
    aiosqlite's worker thread, a close that could wait forever (and the server's
    shutdown with it): a cut export must let its read end.
    """

    def __init__(self, read: Callable[..., Awaitable[Any]]) -> None:
        self.outcomes: list[str] = []
        self.reading = asyncio.Event()

        async def probed(*args: Any) -> Any:
            try:
                if self.outcomes:  # the second batch
                    self.reading.set()
                    await asyncio.sleep(0.2)
                found = await read(*args)
            except asyncio.CancelledError:
                self.outcomes.append("cancelled")
                raise
            self.outcomes.append("read")
            return found

        self.read = probed

    async def cut(self, consume: Callable[[], Awaitable[None]], after_s: float = 0.0) -> None:
        """Run ``consume``, cancel it ``after_s`` into the second read, wait for its end."""
        task = asyncio.ensure_future(consume())
        async with asyncio.timeout(5):
            await self.reading.wait()
        await asyncio.sleep(after_s)
        task.cancel()  # the client went away, or the server shuts down
        with contextlib.suppress(asyncio.CancelledError):
            await task
        assert task.cancelled()
