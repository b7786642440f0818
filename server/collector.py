"""The garbage collector's policy: what survives a collection is not walked again
until the next full one.

A server's tracked objects are mostly its connections' (about 80 each), and they
live for hours. CPython walks a survivor again in the middle generation before it
reaches the oldest: in a reconnect storm (``bench/reconnect_storm.py``, 10,000
clients) the middle collections held up to 100,000 objects each and stopped the
loop 40-50 ms at a time, 348 of the 559 ms of collections. Frozen after the
collection that found it alive, an object is walked once young, then only by the
full collection that comes every ``FULL_EVERY`` collections: the storm's
collections took 201-213 ms.

The price: a reference cycle that was alive at a collection and dies later is
freed by the next full collection, not by a middle one. Full collections keep the
cadence CPython's thresholds gave them here before (every ten million net
allocations); ``hipster_gc_pause_seconds{generation="2"}`` shows them.
"""

from __future__ import annotations

import asyncio
import gc
from typing import Any

# Collections between two full ones: with the youngest generation collected
# every 10,000 net allocations (cli.GC_YOUNG_THRESHOLD), ten million allocations.
FULL_EVERY = 1_000


class Tenure:
    """Freeze the survivors of every collection; every ``full_every`` collections,
    unfreeze them and run a full collection on ``loop`` (a collection cannot start
    another from its callback)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, full_every: int = FULL_EVERY) -> None:
        self._loop = loop
        self._full_every = full_every
        self._since_full = 0
        self._full_due = False

    def install(self) -> None:
        """Start acting after every collection."""
        gc.callbacks.append(self.on_collection)

    def uninstall(self) -> None:
        """Stop acting, and give everything frozen back to the collector."""
        if self.on_collection in gc.callbacks:
            gc.callbacks.remove(self.on_collection)
        gc.unfreeze()

    def on_collection(self, phase: str, info: dict[str, Any]) -> None:
        """Freeze what a finished collection left, unless a full collection is due.

        A collection of the oldest generation CPython starts itself walks only
        what is not frozen: counted like a young one.
        """
        if phase != "stop":
            return
        if self._full_due:
            if info["generation"] < 2:
                return  # leave the survivors where the full collection walks them
            self._full_due = False  # everything was walked
        else:
            self._since_full += 1
            if self._since_full >= self._full_every:
                self._request_full()
                return
        gc.freeze()

    def _request_full(self) -> None:
        gc.unfreeze()
        try:
            self._loop.call_soon_threadsafe(self._collect_if_due)
        except RuntimeError:  # the loop has closed: the process is ending
            return
        self._since_full, self._full_due = 0, True

    def _collect_if_due(self) -> None:
        if self._full_due:
            gc.collect()
