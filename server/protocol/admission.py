"""Admission of new connections: a bound on those authenticating at once, and when to return."""

from __future__ import annotations

import asyncio
import functools
import random
import time
from collections.abc import Callable

from server.line import Line

# Never tell a client to come back sooner than this (s), nor later than the cap setting.
MIN_RETRY_S = 0.5
# The readiness rate assumed before one was measured, and its floor (connects/s).
MIN_RATE = 50.0


class Admission:
    """Let at most ``max_pending`` connections authenticate at once; the rest wait
    briefly for a turn, or are turned away.

    A connection finding every slot taken waits up to ``wait_s`` for one when its
    turn is due that soon (fewer wait than the best rate times ``wait_s``): it has
    paid for its upgrade already, and turning it away would make it pay again
    (waiting, it holds an idle socket and nothing else; see ``WS_ADMIT_WAIT_S`` in
    docs/configuration.md for what a longer wait saved in a reconnect storm).
    A client turned away is told when to come back. Each refusal books the next
    free slot at the best rate connections reached ``ready`` in any second so far
    (what this instance has shown it can do; a storm begins after a quiet second),
    so a herd returns spread over the time this instance needs to serve it, and a
    random factor of 0.5-1.5 breaks up clients that would return together.
    """

    def __init__(
        self,
        max_pending: int,
        retry_max_s: float,
        clock: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
        wait_s: float = 0.0,
    ) -> None:
        self.max_pending = max_pending
        self.retry_max_s = retry_max_s
        self.wait_s = wait_s
        self._line: Line[None] = Line(TimeoutError)
        self.pending = 0
        self.turned_away = 0
        self._clock = clock
        self._rand = rand
        self._horizon = 0.0  # when the last booked return slot falls
        self._second = 0  # the whole second of the clock ``_served`` counts in
        self._served = 0
        self._rate = MIN_RATE  # the most readies in a whole second so far

    @property
    def waiting(self) -> int:
        """Return how many connections wait for a turn."""
        return len(self._line)

    def admit_now(self) -> bool:
        """Admit one connection if a slot is free (True), without waiting."""
        if self.pending < self.max_pending:
            self.pending += 1
            return True
        return False

    async def wait_turn(self, gone: asyncio.Future[None] | None = None) -> float | None:
        """Admit one connection (None), waiting for a slot when one is due within
        ``wait_s``; else return after how many seconds it may try again.

        ``gone`` is done when the connection is lost: one lost while it waits leaves
        the line at once (``ConnectionResetError``) instead of holding a place in it.
        """
        if self.admit_now():
            return None
        if len(self._line) >= self._rate * self.wait_s:
            return self._turn_away()
        loop = asyncio.get_running_loop()
        turn = self._line.join(loop.time() + self.wait_s)
        on_gone = functools.partial(_fail_turn, turn)
        if gone is not None:
            gone.add_done_callback(on_gone)
        try:
            await turn
        except TimeoutError:  # overdue: the line's timer
            return self._turn_away()
        except BaseException:  # gone, or cancelled: a slot handed meanwhile goes on
            self._line.leave(turn)
            if _handed(turn):
                self.leave(ready=False)
            raise
        finally:
            if gone is not None:
                gone.remove_done_callback(on_gone)
        return None

    def _turn_away(self) -> float:
        self.turned_away += 1
        now = self._clock()
        self._horizon = max(self._horizon, now + MIN_RETRY_S) + 1.0 / self._rate
        wait = (self._horizon - now) * (0.5 + self._rand())
        return min(max(wait, MIN_RETRY_S), self.retry_max_s)

    def leave(self, *, ready: bool) -> None:
        """End an admitted connection's authentication (``ready``: it succeeded); its
        slot goes to the longest waiting connection, if any."""
        self.pending -= 1
        if ready:
            self._count_ready()
        if self._line.hand(None):
            self.pending += 1

    def _count_ready(self) -> None:
        second = int(self._clock())
        if second != self._second:
            self._rate = max(self._rate, self._served)
            self._second, self._served = second, 0
        self._served += 1


def _fail_turn(turn: asyncio.Future[None], _gone: asyncio.Future[None]) -> None:
    """Fail the wait of a connection lost while waiting."""
    if not turn.done():
        turn.set_exception(
            ConnectionResetError("the connection went while waiting for a sign-in slot")
        )


def _handed(turn: asyncio.Future[None]) -> bool:
    """Tell whether a waiting connection was handed a slot."""
    return turn.done() and not turn.cancelled() and turn.exception() is None
