"""The due scheduler: emits timer.due once per run, whichever instance gets there first."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from server.clock import now_ms
from server.domain.context import Services
from server.domain.timers.actions import do_fire_due
from server.storage import timers as store

log = logging.getLogger(__name__)


class DueScheduler:
    """Sleep until the next due instant (or a wake-up), then claim and announce due timers.

    The claim is a conditional UPDATE, so with several instances exactly one
    wins each timer; the state lives in the database, so restarts lose nothing.
    Timers started on another instance are found within DUE_POLL_S.
    """

    def __init__(self, services: Services) -> None:
        self.services = services
        self._wake = asyncio.Event()
        self._sleeping_until = 0.0

    def wake_for(self, due_at: int) -> None:
        """Wake early when a timer is due before the current wake-up (only then: pauses
        and stops make dues later or none, which the next pass finds anyway)."""
        if due_at < self._sleeping_until:
            self._wake.set()

    async def run(self) -> None:
        """Loop until cancelled."""
        poll = self.services.settings.due_poll_s
        while True:
            self._wake.clear()
            # While a pass runs, any new due wakes the next one: the pass may have read
            # the next due instant before that timer committed.
            self._sleeping_until = float("inf")
            try:
                next_due = await self.fire_due()
            except Exception:
                log.exception("due scheduler pass failed")
                next_due = None
            delay = poll if next_due is None else min(poll, max(0.0, (next_due - now_ms()) / 1000))
            self._sleeping_until = now_ms() + delay * 1000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)

    async def fire_due(self) -> int | None:
        """Announce every timer due now; return the next due instant, if any."""
        async with self.services.db.read() as conn:
            due = await store.list_due_timers(conn, now_ms())
        for timer_id, owner_id in due:
            await do_fire_due(self.services, timer_id, owner_id)
        async with self.services.db.read() as conn:
            return await store.next_due_at(conn)
