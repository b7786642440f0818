"""When each connection next needs the keepalive sweep: the sweep visits only those due.

Looking at every connection every half second cost 18 ms a sweep with 15,000
connections (docs/performance.md); a connection needs a look only when a ping,
a pong verdict, an expiry warning or close, or its auth deadline falls due.
"""

from __future__ import annotations

import heapq
import itertools
import weakref
from typing import Generic, Protocol, TypeVar

NEVER = float("inf")


class Checked(Protocol):
    """What the schedule keeps of a connection: when its one live entry falls due."""

    check_due: float


C = TypeVar("C", bound=Checked)


class CheckSchedule(Generic[C]):
    """A heap of (due, order, weak reference to the connection).

    Each connection has one live entry, its ``check_due``: asking for a later time
    changes nothing (the earlier look will plan the next), asking for an earlier
    one supersedes it. Weak references: an ended connection is freed at once, not
    held until its entry comes up.
    """

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, weakref.ReferenceType[C]]] = []
        self._order = itertools.count()

    def __len__(self) -> int:
        """Return how many entries wait (live and superseded)."""
        return len(self._heap)

    def at(self, conn: C, due: float) -> None:
        """Have ``conn`` looked at by ``due`` (the loop's clock)."""
        if due < conn.check_due:
            conn.check_due = due
            heapq.heappush(self._heap, (due, next(self._order), weakref.ref(conn)))

    def take_due(self, now: float) -> list[C]:
        """Remove and return the connections due by ``now``, each once."""
        heap: list[tuple[float, int, weakref.ReferenceType[C]]] = self._heap
        due_now: list[C] = []
        while heap and heap[0][0] <= now:
            due, _, ref = heapq.heappop(heap)
            conn = ref()
            if conn is not None and conn.check_due == due:
                conn.check_due = NEVER
                due_now.append(conn)
        return due_now
