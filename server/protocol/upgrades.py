"""A bound on how many WebSocket upgrades start in one turn of the event loop.

When an instance dies, its clients all come back at once. The listening socket
(its backlog is 4,096) then hands the survivor thousands of connections in one
go, and each one's upgrade runs up to its first wait in the same turn of the
loop: with ``reconnect_storm.py``, single turns of 0.3-0.9 s, during which no
live client's frame was read or delivered. The gate lets ``per_turn`` upgrades
start per turn and the rest wait, first come first served, for the next turns:
the same work, in slices with everything else between them.
"""

from __future__ import annotations

import asyncio
from collections import deque

# About 13 ms of upgrade work (0.2 ms each) per turn of the loop.
UPGRADES_PER_TURN = 64


class UpgradeGate:
    """Let at most ``per_turn`` callers of ``wait`` through per turn of the loop."""

    def __init__(self, per_turn: int = UPGRADES_PER_TURN) -> None:
        self.per_turn = per_turn
        self._passed = 0  # callers let through in this turn
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._turn: asyncio.Handle | None = None  # the next turn's release, when scheduled
        self.held = 0  # callers that waited for a later turn, since start

    async def wait(self) -> None:
        """Return at once while this turn has room and nobody waits; else wait for a turn."""
        loop = asyncio.get_running_loop()
        if self._turn is None:
            self._turn = loop.call_soon(self._next_turn)
        if self._passed < self.per_turn and not self._waiting:
            self._passed += 1
            return
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiting.append(waiter)
        self.held += 1
        await waiter

    @property
    def waiting(self) -> int:
        """How many callers wait for a turn."""
        return len(self._waiting)

    def _next_turn(self) -> None:
        """Start a turn: let the next ``per_turn`` waiters through (skipping the gone)."""
        self._turn = None
        self._passed = 0
        while self._waiting and self._passed < self.per_turn:
            waiter = self._waiting.popleft()
            if not waiter.done():  # a cancelled waiter's client left: no place taken
                waiter.set_result(None)
                self._passed += 1
        if self._waiting or self._passed:
            self._turn = asyncio.get_running_loop().call_soon(self._next_turn)
