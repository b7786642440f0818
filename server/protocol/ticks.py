"""Tick frames: one task per interval in use, aligned to the server's wall clock."""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from server.clock import now_ms

log = logging.getLogger(__name__)


class TickReceiver(Protocol):
    """A connection that wants tick frames."""

    def send_tick(self, now: int) -> None:
        """Queue one tick frame for ``now``."""


class Ticker:
    """Group connections by interval; each group shares one aligned timer task."""

    def __init__(self) -> None:
        self._groups: dict[int, set[TickReceiver]] = {}
        self._tasks: dict[int, asyncio.Task[None]] = {}

    def add(self, receiver: TickReceiver, interval_ms: int) -> None:
        """Send ``receiver`` a tick every ``interval_ms``."""
        self.remove(receiver)
        self._groups.setdefault(interval_ms, set()).add(receiver)
        if interval_ms not in self._tasks:
            task = asyncio.create_task(self._run(interval_ms), name=f"ticks:{interval_ms}")
            self._tasks[interval_ms] = task

    def remove(self, receiver: TickReceiver) -> None:
        """Stop ticks for ``receiver``."""
        for interval, group in list(self._groups.items()):
            group.discard(receiver)
            if not group:
                del self._groups[interval]
                self._tasks.pop(interval).cancel()

    async def stop(self) -> None:
        """Cancel and await every tick task."""
        tasks = list(self._tasks.values())
        self._groups.clear()
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _run(self, interval_ms: int) -> None:
        while True:
            now = now_ms()
            # Align to multiples of the interval since the epoch: 1000 ms ticks land on
            # whole seconds, so every client's display flips at the same instant.
            await asyncio.sleep((interval_ms - now % interval_ms) / 1000)
            stamp = now_ms()
            for receiver in list(self._groups.get(interval_ms, ())):
                try:
                    receiver.send_tick(stamp)
                except Exception:
                    log.exception("tick failed for one connection")
