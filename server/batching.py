"""Micro-batching: look-ups of one key each, answered together by one read of many."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

# Keys per read: a bounded IN list (SQLite allows 32,766 variables; PostgreSQL plans
# a long list slowly), and a bounded wait for the last key of a large burst.
MAX_BATCH = 500
# While keys keep coming (a read ended less than BUSY_S ago), a read waits GATHER_S
# for more: a read costs far more than a key, and reads fast enough to take one key
# each would cost a storm one read per connect.
GATHER_S = 0.005
BUSY_S = 0.05


class Batcher(Generic[K, V]):
    """Read keys asked for meanwhile in one go, one read at a time.

    A key asked for while a read is under way waits for the next read, so every
    answer comes from a read that began after it was asked for. In a reconnect
    storm the per-read costs (a statement, its execution layer) are shared by
    many connects instead of paid by each: while keys keep coming, a read first
    waits ``GATHER_S`` for more (reads once took long enough to gather them;
    made fast, they took one key each and a storm paid a read per connect).
    """

    def __init__(self, read_many: Callable[[list[K]], Awaitable[dict[K, V]]], name: str) -> None:
        self.read_many = read_many
        self.name = name
        self._waiting: dict[K, list[asyncio.Future[V]]] = {}
        self._task: asyncio.Task[None] | None = None
        self._last_read = -BUSY_S

    async def get(self, key: K) -> V:
        """Return the value of ``key`` from a read that starts after this call."""
        # A future of its own: a caller giving up cancels its wait, not the others'.
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        waiting = self._waiting.get(key)
        if waiting is None:
            self._waiting[key] = [future]
        else:
            waiting.append(future)
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"batch:{self.name}")
        return await future

    async def stop(self) -> None:
        """Cancel the read under way (on shutdown) and await it."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._waiting:
                if loop.time() - self._last_read < BUSY_S:
                    await asyncio.sleep(GATHER_S)
                keys = list(self._waiting)[:MAX_BATCH]
                batch = {key: self._waiting.pop(key) for key in keys}
                await self._answer(batch)
                self._last_read = loop.time()
        finally:
            self._task = None
            for futures in self._waiting.values():  # cancelled meanwhile
                for future in futures:
                    future.cancel()
            self._waiting = {}

    async def _answer(self, batch: dict[K, list[asyncio.Future[V]]]) -> None:
        try:
            values = await self.read_many(list(batch))
            answers = [(futures, values[key]) for key, futures in batch.items()]
        except Exception as exc:  # a key left out of the answer too: nobody waits forever
            for futures in batch.values():
                for future in futures:
                    if not future.done():
                        future.set_exception(exc)
            return
        except BaseException:
            for futures in batch.values():
                for future in futures:
                    future.cancel()
            raise
        for futures, value in answers:
            for future in futures:
                if not future.done():
                    future.set_result(value)
