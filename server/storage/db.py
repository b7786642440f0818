"""The engine and the transaction helper with after-commit hooks."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import QueuePool

from server.line import Line
from server.storage.driver import driver_of
from server.storage.events import StaleRowError
from server.storage.sqlite_inline import BUSY_TIMEOUT_MS, create_inline_engine

AfterCommit = Callable[[], Awaitable[None]]


# SQLSTATEs of a transaction the database aborted only because of a concurrent one:
# serialization failure, deadlock, lock not available. Running it again is safe.
TRANSIENT_STATES = frozenset({"40001", "40P01", "55P03"})


def lost_race(exc: BaseException) -> str | None:
    """Classify a database error a concurrent writer caused: "transient", "integrity" or None.

    "integrity" is a constraint that a concurrent commit made fail (a unique name
    taken meanwhile): run again, the command's own checks see the winner.
    """
    if isinstance(exc, StaleRowError):
        return "transient"  # read the row again and redo the change
    # SQLAlchemy's wrapping, or sqlite3's own (SQLite's writes run on it: driver.run_inline).
    if isinstance(exc, (IntegrityError, sqlite3.IntegrityError)):
        return "integrity"
    # SQLAlchemy's wrapping, or asyncpg's own error (statements run on the driver).
    state = getattr(exc.orig if isinstance(exc, DBAPIError) else exc, "sqlstate", None)
    if state in TRANSIENT_STATES:
        return "transient"
    if isinstance(state, str) and state.startswith("23") and not isinstance(exc, DBAPIError):
        return "integrity"
    return None


def _pool_timed_out() -> PoolTimeoutError:
    return PoolTimeoutError("every pooled connection stayed busy")


@dataclass
class Tx:
    """An open transaction: its connection and the hooks to run once it commits."""

    conn: AsyncConnection
    after_commit: list[AfterCommit] = field(default_factory=list)


class Database:
    """The engine, plus what each dialect needs to make transactions safe."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.is_sqlite = engine.dialect.name == "sqlite"
        # PostgreSQL reads run each statement on its own (autocommit): under READ
        # COMMITTED a statement's snapshot is its own inside a transaction too, so a
        # read transaction bought nothing but its BEGIN and ROLLBACK round trips.
        # SQLite's read transaction is one snapshot for all its statements: kept.
        # SQLite's writer runs its statements on the loop's thread (sqlite_inline); its
        # reads go to aiosqlite's threads, where a long one does not stall the loop.
        self._reader = (
            _sqlite_reader(engine)
            if self.is_sqlite
            else engine.execution_options(isolation_level="AUTOCOMMIT")
        )
        # SQLite has one writer; queueing writers here avoids SQLITE_BUSY on the
        # read-to-write upgrade that busy_timeout cannot resolve.
        self._write_lock = asyncio.Lock() if self.is_sqlite else None
        # PostgreSQL connections kept checked out between autocommit uses (reads and
        # single statements): a pool checkout and return through SQLAlchemy cost more
        # CPU than the statement they serve. The whole pool may idle here: a
        # transaction that finds the pool empty takes one back.
        self._kept: list[AsyncConnection] = []
        self._pool_waiters = 0  # blocks waiting inside the pool for a checkout
        # Autocommit blocks waiting in line (every connection was out): handed the
        # connection a block ends with, or told (None) that the pool got one back.
        self._line: Line[AsyncConnection | None] = Line(_pool_timed_out)
        pool = engine.pool
        self._pool = pool if isinstance(pool, QueuePool) and not self.is_sqlite else None
        self._keep_max = self._pool.size() if self._pool is not None else 0
        if self._pool is not None:
            event.listen(engine.sync_engine, "checkin", lambda *_: self._hand_over(None))

    @property
    def engines(self) -> tuple[AsyncEngine, ...]:
        """Return the engines statements run on: the one, or SQLite's writer and reader."""
        if self.is_sqlite and self._reader is not self.engine:
            return (self.engine, self._reader)
        return (self.engine,)

    @property
    def kept_idle(self) -> int:
        """Return how many connections are kept checked out, idle, for autocommit use."""
        return len(self._kept)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        """Run a block in one transaction; its after-commit hooks run once it committed."""
        lock = self._write_lock or contextlib.nullcontext()
        await self._give_back_kept_if_pool_empty()
        async with lock, self._pooled() as conn, conn.begin():
            tx = Tx(conn)
            yield tx
        for hook in tx.after_commit:
            await hook()

    @contextlib.asynccontextmanager
    async def one_statement(self) -> AsyncIterator[Tx]:
        """Give a connection for reads and one writing statement, atomic on its own: on
        PostgreSQL each runs without a transaction (no BEGIN, no COMMIT); SQLite takes
        the writer's transaction. The hooks run once it is written."""
        if self.is_sqlite:
            async with self.transaction() as tx:
                yield tx
            return
        async with self._autocommit() as conn:
            tx = Tx(conn)
            yield tx
        for hook in tx.after_commit:
            await hook()

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """Give a connection for reads."""
        if self.is_sqlite:
            async with self._reader.connect() as conn:
                yield conn
            return
        async with self._autocommit() as conn:
            yield conn

    @contextlib.asynccontextmanager
    async def _autocommit(self) -> AsyncIterator[AsyncConnection]:
        """Give a PostgreSQL autocommit connection: a kept one, else one from the pool.

        A block that ends normally gives it back to be kept (unless someone
        waits for the pool or the database closed it); one that
        raised returns it to the pool, which resets or replaces it.
        """
        conn = await self._take_autocommit()
        try:
            yield conn
        except BaseException:
            await conn.close()
            raise
        await self._give_back(conn)

    async def _give_back(self, conn: AsyncConnection) -> None:
        """End an autocommit use: hand the connection to the longest waiting block, else
        keep it, or return it to the pool when it may not be kept."""
        if not self._keepable(conn):
            await conn.close()
        elif not self._hand_over(conn):
            self._kept.append(conn)

    async def _take_autocommit(self) -> AsyncConnection:
        """Take a kept connection, else one from the pool while it has one; else wait in
        line (up to the pool's timeout, then the pool's own ``TimeoutError``).

        Waiting here, not inside the pool, lets a connection go from one autocommit
        block to the next without a pool checkout even when every one is out. The
        line is first come, first served: a block that finds others in line queues
        behind them, and a released connection goes straight to the first, so a
        command arriving as one is released cannot take it from a scheduler pass or
        a catch-up that has waited seconds.
        """
        assert self._pool is not None
        deadline = asyncio.get_running_loop().time() + self._pool.timeout()
        front = False  # told the pool has one, a block that finds none keeps its place
        while True:
            if front or self._line_is_empty():
                conn = await self._take_now()
                if conn is not None:
                    return conn
            handed = await self._wait_in_line(deadline, front)
            if handed is not None:
                return handed
            front = True

    def _line_is_empty(self) -> bool:
        """Tell whether no autocommit block waits in line."""
        return self._line.is_empty()

    async def _take_now(self) -> AsyncConnection | None:
        """Take a kept connection, else one from the pool if it has one; else None."""
        assert self._pool is not None
        conn = await self._take_kept()
        if conn is not None:
            return conn
        if self._pool.checkedin() or self._pool.checkedout() < self._pool.size():
            return await self._checkout(self._reader)
        return None

    async def _wait_in_line(self, deadline: float, front: bool) -> AsyncConnection | None:
        """Wait for a connection handed over (returned) or the pool's news (None);
        past ``deadline``, the line's timer fails the wait (``PoolTimeoutError``)."""
        future = self._line.join(deadline, front=front)
        served = False
        try:
            handed = await future
            served = True
            return handed
        finally:
            if not served:
                await self._leave_line(future)

    async def _leave_line(self, future: asyncio.Future[AsyncConnection | None]) -> None:
        """Step out of line (timed out, cancelled): what was handed meanwhile goes on."""
        self._line.leave(future)
        if future.done() and not future.cancelled() and future.exception() is None:
            handed = future.result()
            if handed is None:
                self._hand_over(None)  # the pool's news, for the next in line
            else:
                await self._give_back(handed)

    def _hand_over(self, conn: AsyncConnection | None) -> bool:
        """Give the longest waiting block ``conn`` (None: the pool has one); False when
        no block waits."""
        return self._line.hand(conn)

    def _keepable(self, conn: AsyncConnection) -> bool:
        """Tell whether a connection an autocommit block ends with is kept: not when a
        transaction waits inside the pool (it goes there), nor when the database closed it."""
        return (
            self._pool_waiters == 0
            and len(self._kept) < self._keep_max
            and not driver_of(conn).is_closed()
        )

    async def _checkout(self, engine: AsyncEngine) -> AsyncConnection:
        """Take a connection from the pool, counted as waiting until it comes."""
        self._pool_waiters += 1
        try:
            return await engine.connect()
        finally:
            self._pool_waiters -= 1

    @contextlib.asynccontextmanager
    async def _pooled(self) -> AsyncIterator[AsyncConnection]:
        """Give a connection of the pool for a transaction (counted while it waits)."""
        conn = await self._checkout(self.engine)
        try:
            yield conn
        finally:
            await conn.close()

    async def _give_back_kept_if_pool_empty(self) -> None:
        """Return one idle kept connection to the pool when the pool has none left: a
        transaction must not wait while a connection idles here."""
        pool = self._pool
        if not self._kept or pool is None:
            return
        if pool.checkedin() == 0 and pool.checkedout() >= pool.size():
            await self._kept.pop().close()

    async def _take_kept(self) -> AsyncConnection | None:
        """Return a kept connection the database has not closed (those go back), or None."""
        while self._kept:
            conn = self._kept.pop()
            if not driver_of(conn).is_closed():
                return conn
            await conn.invalidate()
            await conn.close()
        return None

    async def close(self) -> None:
        """Give back the kept connections and dispose of the pool."""
        self._line.close()
        kept, self._kept = self._kept, []
        for conn in kept:
            await conn.close()
        for engine in self.engines:
            await engine.dispose()


def create_engine(url: str, pool_size: int = 20, pool_timeout_s: float = 5.0) -> AsyncEngine:
    """Create the async engine; SQLite gets WAL, foreign keys, and statements run on
    the loop's thread (``sqlite_inline``)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # No overflow: a connection opened under load is kept, not closed on its
        # return (each reopening cost a connect, a TLS probe and re-prepared statements).
        engine = create_async_engine(
            url, pool_size=pool_size, max_overflow=0, pool_timeout=pool_timeout_s
        )
        event.listen(engine.sync_engine, "checkout", _refuse_closed)
        return engine
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_inline_engine(parsed)
    event.listen(
        engine.sync_engine, "connect", functools.partial(_sqlite_pragmas, busy_timeout_ms=0)
    )
    return engine


def _sqlite_reader(engine: AsyncEngine) -> AsyncEngine:
    """Return the engine SQLite reads go to: on aiosqlite's threads, waiting when locked.

    An in-memory database is one connection's own: its reads share the writer's engine.
    """
    if engine.url.database in (None, "", ":memory:"):
        return engine
    reader = create_async_engine(engine.url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
    event.listen(reader.sync_engine, "connect", _sqlite_pragmas)
    return reader


def _refuse_closed(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
    """Replace a pooled connection the server closed (a restart, a terminated backend).

    The driver saw the socket close while the connection sat in the pool, so this
    check costs no round trip; SQLAlchemy's ``pool_pre_ping`` cost three per
    checkout (BEGIN, a query, ROLLBACK), more than a timer mutation's own work.
    """
    if dbapi_conn.driver_connection.is_closed():
        raise DisconnectionError("the database closed this pooled connection")


def _sqlite_pragmas(dbapi_conn: Any, _record: Any, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
    cursor.close()
