"""SQLite's writer connection, with its statements run on the event loop's thread.

aiosqlite runs every call (cursor, execute, fetch, close, commit) on a worker
thread and wakes the loop with the result: a timer transition cost some thirty
such hand-offs, more CPU than SQLite's own work for it. In-process SQLite answers
a small statement in microseconds, so the connection that writes runs each call
where it is made. Reads stay on aiosqlite's threads (``Database.read``): a long
export query must not stall the loop.

A call that finds the database locked by another process (SQLITE_BUSY: a second
server or the CLI on the same file) is not waited for on the loop: with the busy
timeout at 0 it fails at once, and runs again on a worker thread that waits up
to ``BUSY_TIMEOUT_MS``. A statement that got SQLITE_BUSY changed nothing, which
is what makes running it again safe (SQLite's own busy handler does the same).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from typing import Any

import aiosqlite
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

SQLITE_BUSY = 5  # primary result code; the extended ones keep it in their low byte
BUSY_TIMEOUT_MS = 30_000


class _RunNow:
    """The work queue SQLAlchemy's isolation-level setter puts a call on: run at once."""

    def put_nowait(self, item: tuple[asyncio.Future[Any] | None, Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except BaseException as exc:  # handed to the awaiting caller, as aiosqlite does
            if future is not None:
                future.set_exception(exc)
            return
        if future is not None:
            future.set_result(result)


class InlineConnection(aiosqlite.Connection):
    """aiosqlite's connection interface, without its thread."""

    def __init__(self, connector: Callable[[], sqlite3.Connection]) -> None:
        super().__init__(connector, iter_chunk_size=64)
        self._tx = _RunNow()  # type: ignore[assignment]

    def __await__(self) -> Any:
        return self._connect().__await__()

    async def _connect(self) -> InlineConnection:
        if self._connection is None:
            self._connection = await self._run(self._connector)
        return self

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or self._connection is None:
            raise ValueError("Connection closed")
        return await self._run(fn, *args, **kwargs)

    async def _run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorcode", 0) & 0xFF != SQLITE_BUSY:
                raise
        return await asyncio.to_thread(self._waiting, fn, args, kwargs)

    def _waiting(self, fn: Callable[..., Any], args: Any, kwargs: Any) -> Any:
        """Run ``fn`` with the busy timeout (on a worker thread)."""
        conn = self._connection
        if conn is None:  # the connector itself found the file locked
            return fn(*args, **kwargs)
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        try:
            return fn(*args, **kwargs)
        finally:
            conn.execute("PRAGMA busy_timeout=0")

    async def run_sql(self, sql: str, args: list[Any]) -> sqlite3.Cursor:
        """Run compiled SQL on the connection itself, as its other calls run."""
        assert self._connection is not None
        return await self._execute(self._connection.execute, sql, args)

    def stop(self) -> None:
        self._running = False
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def create_inline_engine(url: URL) -> AsyncEngine:
    """Create an engine on ``url`` (``sqlite+aiosqlite``) whose connections run inline."""
    engine: AsyncEngine | None = None

    async def connect() -> InlineConnection:
        assert engine is not None
        args, kwargs = engine.dialect.create_connect_args(engine.url)
        kwargs = {**kwargs, "timeout": 0, "check_same_thread": False}
        connect_sqlite: Any = sqlite3.connect
        return await InlineConnection(lambda: connect_sqlite(*args, **kwargs))

    engine = create_async_engine(url, async_creator=connect)
    return engine
