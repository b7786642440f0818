"""Waits a caller's cancellation does not cut short."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


async def run_uncut(work: Awaitable[T]) -> T:
    """Await ``work`` to its end even when the caller is cancelled meanwhile (the
    cancellation then goes on to the caller).

    For reads a cancel may cut (an export whose client left, a shutdown): on
    SQLite a read cancelled inside aiosqlite has SQLAlchemy close its connection
    through aiosqlite's worker thread, and that close could wait forever. And for
    a change waiting for its batch (``write_lane``), which may be running on the
    change's own connection.
    """
    task = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.wait([task])  # wait() never cancels what it waits for
        if not task.cancelled():
            task.exception()  # seen: not logged as never retrieved
        raise
