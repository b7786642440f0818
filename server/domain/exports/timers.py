"""The timer export: checked before the answer starts, then read and written a batch at a time.

Each batch is one short keyset query on its own pooled connection, so a
client that reads slowly holds no connection, transaction or snapshot, only
the chunk being written and the next batch, read while it is written. A timer
appears once, as it was when its batch was read: batches follow the timers'
creation order, which never changes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

from sqlalchemy import Select

from schema.exports import TimerExportQuery
from server.clock import now_ms
from server.domain.context import Services
from server.domain.exports.localtime import LocalClock
from server.domain.exports.timesheet import (
    CREATED,
    FIELDS,
    HISTORY_N,
    ID,
    Row,
    Timesheet,
    tag_ids_of,
)
from server.domain.paging import parse_instant
from server.domain.taggable import require_own_tags
from server.domain.timers.logic import HISTORY_MAX
from server.errors import validation_error
from server.storage import exports as store
from server.storage.timers import read_histories
from server.storage.uncut import run_uncut
from server.storage.users import get_user

# Rows per query, and per chunk written. A query per 1,000 rows costs little
# next to formatting them (asyncpg decodes them in ~3 ms), and 250 rows are
# ~2 ms of formatting (~40 KB of CSV) between two turns of the event loop:
# /health waited 12 ms at the median behind batches of 2,000 and slices of
# 500, 3-4 ms with these (bench/exports.py).
BATCH = 1000
SLICE = 250
Format = Literal["csv", "jsonl"]


@dataclass
class TimerExport:
    """A checked export: whose timers, which ones, in which zone and shape."""

    services: Services
    owner_id: str
    where: store.TimerFilter
    sheet: Timesheet
    names: dict[str, str]  # the sheet's tag names, filled as tags show up

    async def chunks(self, fmt: Format) -> AsyncGenerator[bytes, None]:
        """Yield the export's bytes: the CSV header, then one chunk per batch."""
        if fmt == "csv":
            yield self.sheet.csv_header()
        write = self.sheet.csv if fmt == "csv" else self.sheet.jsonl
        # Closed with this generator, not later by the loop: the read under way ends
        # before the request does.
        async with contextlib.aclosing(self._batches()) as batches:
            async for rows in batches:
                now = now_ms()
                for start in range(0, len(rows), SLICE):
                    yield write(rows[start : start + SLICE], now)
                    await asyncio.sleep(0)  # a write need not wait: let other requests in

    async def _batches(self) -> AsyncGenerator[Sequence[Row], None]:
        """Yield the timers a batch at a time, reading the next one while the last is written.

        An export that ends early (its client gone, the server shutting down) lets
        the read under way finish rather than cancel it mid-statement (``run_uncut``).
        """
        stmt = store.timer_selection(self.owner_id, FIELDS, self.where)
        pending: asyncio.Future[Sequence[Row]] | None = asyncio.ensure_future(self._read(stmt))
        try:
            while pending is not None:
                rows = await run_uncut(pending)
                pending = None
                if len(rows) == BATCH:
                    last = rows[-1]
                    pending = asyncio.ensure_future(self._read(stmt, (last[CREATED], last[ID])))
                if rows:
                    yield rows
        finally:
            if pending is not None:  # the export ended early: one short query to wait for
                with contextlib.suppress(Exception):
                    await run_uncut(pending)

    async def _read(self, stmt: Select[Any], after: tuple[int, str] | None = None) -> Sequence[Row]:
        """Read one batch after ``after``, and the names of tags it shows first."""
        async with self.services.db.read() as conn:
            page = store.keyset_page(stmt, store.TIMER_KEY, after, BATCH)
            rows = await store.read_tuples(conn, page)
            if self.sheet.segments:
                counts = {row[ID]: row[HISTORY_N] for row in rows}
                histories = await read_histories(conn, counts, HISTORY_MAX)
                rows = [(*row, histories[row[ID]]) for row in rows]
            unknown = tag_ids_of(rows) - self.names.keys()
            if unknown:
                self.names.update(await store.tag_names(conn, self.owner_id, unknown))
        return rows


async def prepare_timer_export(
    services: Services, owner_id: str, query: TimerExportQuery
) -> TimerExport:
    """Check the query (tags the caller's, a range that is not empty) and fix the zone."""
    async with services.db.read() as conn:
        if query.tag_ids:
            await require_own_tags(conn, owner_id, query.tag_ids)
        user = await get_user(conn, owner_id)
    clock = LocalClock(query.tz or (user["timezone"] if user else "UTC"))
    start = _bound(query.start, "from", clock, next_day=False)
    end = _bound(query.to, "to", clock, next_day=True)
    if start is not None and end is not None and end <= start:
        raise validation_error("to must be after from", field="to")
    where = store.TimerFilter(start, end, tuple(query.status or ()), tuple(query.tag_ids or ()))
    names: dict[str, str] = {}
    sheet = Timesheet(clock, names, segments=query.rows == "segments")
    return TimerExport(services, owner_id, where, sheet, names)


def _bound(value: str | None, name: str, clock: LocalClock, *, next_day: bool) -> int | None:
    """Read ``from`` / ``to``: an instant as given, a day as its local start (``to``: the next)."""
    if value is None or len(value) > len("YYYY-MM-DD"):
        return parse_instant(value, name)
    day = date.fromisoformat(value)
    if next_day:
        if day == date.max:
            return None
        day += timedelta(days=1)
    return clock.day_start(day)
