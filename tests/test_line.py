"""The line of waits the pool and admission share: order, hand-over, deadlines."""

from __future__ import annotations

import asyncio

import pytest

from server.line import Line


class OverdueError(Exception):
    """What an overdue wait fails with in these tests."""


def now() -> float:
    return asyncio.get_running_loop().time()


async def test_waits_are_served_first_come_first_served_and_front_first() -> None:
    line: Line[str] = Line(OverdueError)
    first = line.join(now() + 60)
    second = line.join(now() + 60)
    kept = line.join(now() + 60, front=True)  # a wait that keeps its place
    assert len(line) == 3
    assert [line.hand(v) for v in "abc"] == [True, True, True]
    assert [await f for f in (kept, first, second)] == ["a", "b", "c"]
    assert line.hand("d") is False
    assert line.is_empty()
    assert len(line) == 0


async def test_an_overdue_wait_fails_and_the_others_keep_waiting() -> None:
    line: Line[str] = Line(OverdueError)
    soon = line.join(now() + 0.05)
    later = line.join(now() + 60)
    with pytest.raises(OverdueError):
        await asyncio.wait_for(soon, 1.0)
    assert not later.done()
    assert len(line) == 1
    assert line.hand("x")
    assert await later == "x"
    line.close()


async def test_one_timer_serves_the_line_however_long() -> None:
    line: Line[str] = Line(OverdueError)
    waits = [line.join(now() + 0.05 + i * 0.001) for i in range(100)]
    assert line._timer is not None
    assert line._timer.when() <= now() + 0.051
    results = await asyncio.gather(*waits, return_exceptions=True)
    assert all(isinstance(r, OverdueError) for r in results)
    assert line._timer is None
    assert len(line) == 0


async def test_a_cancelled_wait_does_not_count_as_waiting_and_is_skipped() -> None:
    line: Line[str] = Line(OverdueError)
    gone = line.join(now() + 60)
    stays = line.join(now() + 60)
    gone.cancel()  # its owner was cancelled and has not stepped out yet
    assert not line.is_empty()
    assert line.hand("x")
    assert await stays == "x"
    line.leave(gone)
    assert line.is_empty()
    assert len(line) == 0


async def test_leave_cancels_an_unsettled_wait_and_keeps_a_settled_one() -> None:
    line: Line[str] = Line(OverdueError)
    left = line.join(now() + 60)
    line.leave(left)
    assert left.cancelled()
    assert len(line) == 0
    handed = line.join(now() + 60)
    assert line.hand("x")
    line.leave(handed)  # settled meanwhile: the caller passes it on
    assert handed.result() == "x"
    line.close()
