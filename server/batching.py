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
# While reads follow one another (a herd signing in), a read first waits this long
# for more keys; a key that comes after a quiet spell is read at once.
GATHER_S = 0.002
# A read that starts within this long of the previous one's end is in a herd.
HERD_GAP_S = 0.020


class Batcher(Generic[K, V]):
    """Read keys asked for meanwhile in one go, one read at a time.

    A key asked for while a read is under way waits for the next read, so every
    answer comes from a read that began after it was asked for. In a reconnect
    storm the per-read costs (a statement, its execution layer) are shared by
    the connects that asked meanwhile instead of paid by each. A read first
    yields one turn of the loop, so the keys asked for in the turn it was asked
    in join it; in a herd (the previous read ended under ``HERD_GAP_S`` ago) it
    waits ``GATHER_S`` for more. Larger reads also start their callers' next
    steps together (one ``SUBSCRIBE`` for their topics, one read of their heads):
    measured, 2 ms cut a connect's server CPU by a fifth, where fixed waits of
    1 and 4 ms did not show, and 5 ms after every read cost more than it saved
    (``docs/performance.md``).
    """

    def __init__(self, read_many: Callable[[list[K]], Awaitable[dict[K, V]]], name: str) -> None:
        self.read_many = read_many
        self.name = name
        self._waiting: dict[K, list[asyncio.Future[V]]] = {}
        self._task: asyncio.Task[None] | None = None
        self._last_read = float("-inf")  # when the last read ended (loop time)

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
                in_herd = loop.time() - self._last_read < HERD_GAP_S
                await asyncio.sleep(GATHER_S if in_herd else 0)  # others join the read
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
