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


class Batcher(Generic[K, V]):
    """Read keys asked for meanwhile in one go, one read at a time.

    A key asked for while a read is under way waits for the next read, so every
    answer comes from a read that began after it was asked for. In a reconnect
    storm the per-read costs (a pool checkout, BEGIN, ROLLBACK) are shared by
    hundreds of connects instead of paid by each.
    """

    def __init__(self, read_many: Callable[[list[K]], Awaitable[dict[K, V]]], name: str) -> None:
        self.read_many = read_many
        self.name = name
        self._waiting: dict[K, asyncio.Future[V]] = {}
        self._task: asyncio.Task[None] | None = None

    async def get(self, key: K) -> V:
        """Return the value of ``key`` from a read that starts after this call."""
        future = self._waiting.get(key)
        if future is None:
            future = self._waiting[key] = asyncio.get_running_loop().create_future()
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"batch:{self.name}")
        # Shielded: one caller giving up must not cancel the others' answer.
        return await asyncio.shield(future)

    async def stop(self) -> None:
        """Cancel the read under way (on shutdown) and await it."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _run(self) -> None:
        try:
            while self._waiting:
                keys = list(self._waiting)[:MAX_BATCH]
                batch = {key: self._waiting.pop(key) for key in keys}
                await self._answer(batch)
        finally:
            self._task = None
            for future in self._waiting.values():  # cancelled meanwhile
                future.cancel()
            self._waiting = {}

    async def _answer(self, batch: dict[K, asyncio.Future[V]]) -> None:
        try:
            values = await self.read_many(list(batch))
            answers = [(future, values[key]) for key, future in batch.items()]
        except Exception as exc:  # a key left out of the answer too: nobody waits forever
            for future in batch.values():
                if not future.done():
                    future.set_exception(exc)
            return
        except BaseException:
            for future in batch.values():
                future.cancel()
            raise
        for future, value in answers:
            if not future.done():
                future.set_result(value)
