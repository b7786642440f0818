"""The timer export: checked before the answer starts, then read and written a batch at a time.

Each batch is one short keyset query on its own pooled connection, so a
client that reads slowly holds no connection, transaction or snapshot, only
the chunk being written. A timer appears once, as it was when its batch was
read: batches follow the timers' creation order, which never changes.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

import orjson
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from schema.exports import TimerExportQuery
from server.clock import now_ms
from server.domain.context import Services
from server.domain.exports.localtime import LocalClock
from server.domain.exports.timesheet import FIELDS, Timesheet
from server.domain.paging import parse_instant
from server.domain.taggable import require_own_tags
from server.errors import validation_error
from server.storage import exports as store
from server.storage.users import get_user

# Rows per query and per chunk written: ~10 ms of formatting between two
# yields to the event loop, and a few hundred KB per write.
BATCH = 1000
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
        stmt = store.timer_selection(self.owner_id, FIELDS, self.where)
        after: Sequence[object] | None = None
        while True:
            async with self.services.db.read() as conn:
                rows = await store.read_batch(conn, stmt, store.TIMER_KEY, after, BATCH)
                await self._learn_tags(conn, rows)
            if not rows:
                return
            now = now_ms()
            yield self.sheet.csv(rows, now) if fmt == "csv" else self.sheet.jsonl(rows, now)
            if len(rows) < BATCH:
                return
            after = (rows[-1]["created_at"], rows[-1]["id"])

    async def _learn_tags(self, conn: AsyncConnection, rows: Sequence[RowMapping]) -> None:
        """Read the names of tags first seen in this batch (only tags in use are ever read)."""
        seen = {t for row in rows if row["tag_ids"] != "[]" for t in orjson.loads(row["tag_ids"])}
        unknown = seen - self.names.keys()
        if unknown:
            self.names.update(await store.tag_names(conn, self.owner_id, unknown))


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
