"""When a user's own schedules keep them busy: what a poll's autofill leaves out."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy.ext.asyncio import AsyncConnection

from server.domain.schedules.expand import Item, window_items
from server.storage import schedules as store


async def busy_spans(
    conn: AsyncConnection, owner_id: str, start: int, end: int
) -> Iterator[tuple[int, int]]:
    """Yield ``(start, end)`` of the owner's occurrences in [start, end), in start order.

    Recurrences, overrides and zones apply as in any window; cancelled
    occurrences and series keep nobody busy.
    """
    rows, overrides = await store.window_rows(conn, owner_id, start, end)
    return _spans(window_items(rows, overrides, start, end))


def _spans(items: Iterator[Item]) -> Iterator[tuple[int, int]]:
    for at, _series, _original, row, override in items:
        state = (override["state"] if override is not None else None) or row["state"]
        if state == "CANCELLED":
            continue
        duration = row["end_at"] - row["start_at"]
        finish = override["end_at"] if override is not None else at + duration
        yield at, finish
