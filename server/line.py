"""A line of waits served first come, first served, each given up at its deadline.

One timer serves the whole line (at its earliest deadline) instead of a time-out
per wait: a wait costs a future and a place in a deque. The pool's autocommit
blocks wait in one for a connection, and new WebSocket connections in another for
a sign-in slot.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")

# A timer may fire a clock tick early: a deadline within this many seconds counts as due.
EARLY_S = 0.001


class _Wait(Generic[T]):
    __slots__ = ("deadline", "future")

    def __init__(self, deadline: float, future: asyncio.Future[T]) -> None:
        self.deadline = deadline
        self.future = future


class Line(Generic[T]):
    """Waits in arrival order; ``hand`` serves the first, the timer fails the overdue.

    ``overdue`` makes the exception an overdue wait fails with.
    """

    def __init__(self, overdue: Callable[[], BaseException]) -> None:
        self._overdue = overdue
        self._waits: deque[_Wait[T]] = deque()
        self._timer: asyncio.TimerHandle | None = None

    def __len__(self) -> int:
        """Return how many waits are in line; one settled by other means (cancelled)
        stays counted until its owner calls ``leave``."""
        return len(self._waits)

    def is_empty(self) -> bool:
        """Tell whether nobody still waits."""
        return all(wait.future.done() for wait in self._waits)

    def join(self, deadline: float, *, front: bool = False) -> asyncio.Future[T]:
        """Join the line (at its front: a wait that keeps its place) until ``deadline``
        (the loop's clock); return the future ``hand`` or the timer settles."""
        wait = _Wait(deadline, asyncio.get_running_loop().create_future())
        if front:
            self._waits.appendleft(wait)
        else:
            self._waits.append(wait)
        self._arm(deadline)
        return wait.future

    def hand(self, value: T) -> bool:
        """Give ``value`` to the first still waiting; False when nobody waits."""
        while self._waits:
            future = self._waits.popleft().future
            if not future.done():
                future.set_result(value)
                return True
        return False

    def leave(self, future: asyncio.Future[T]) -> None:
        """Step out of line (cancelled, given up): a wait not yet settled is cancelled;
        one settled meanwhile is the caller's to pass on."""
        for wait in self._waits:
            if wait.future is future:
                with contextlib.suppress(ValueError):
                    self._waits.remove(wait)
                break
        if not future.done():
            future.cancel()

    def close(self) -> None:
        """Stop the timer (on shutdown)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _arm(self, deadline: float) -> None:
        timer = self._timer
        if timer is not None and timer.when() <= deadline:
            return
        if timer is not None:
            timer.cancel()
        self._timer = asyncio.get_running_loop().call_at(deadline, self._expire)

    def _expire(self) -> None:
        """Fail the overdue waits; arm the timer for the earliest deadline left."""
        self._timer = None
        now = asyncio.get_running_loop().time() + EARLY_S
        live: deque[_Wait[T]] = deque()
        for wait in self._waits:
            if wait.future.done():
                continue
            if wait.deadline <= now:
                wait.future.set_exception(self._overdue())
            else:
                live.append(wait)
        self._waits = live
        if live:
            self._arm(min(wait.deadline for wait in live))
