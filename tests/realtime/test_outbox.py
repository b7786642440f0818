"""The publish queue: publish order, both bounds, the oldest dropped first, counted."""

from __future__ import annotations

import pytest

from server.realtime.outbox import Outbox


def frames(*names: str) -> list[tuple[str, bytes]]:
    return [("user:a", name.encode()) for name in names]


def fill(outbox: Outbox, *names: str) -> None:
    for topic, message in frames(*names):
        outbox.put(topic, message)


def test_takes_in_publish_order_within_the_batch_limits():
    outbox = Outbox(max_frames=10, max_bytes=1000)
    fill(outbox, "a", "b", "c", "d", "e")

    assert outbox.take(max_frames=2, max_bytes=1000) == frames("a", "b")
    assert outbox.take(max_frames=10, max_bytes=2) == frames("c", "d")
    assert outbox.take(max_frames=10, max_bytes=1000) == frames("e")
    assert outbox.take(max_frames=10, max_bytes=1000) == []
    assert (len(outbox), outbox.size) == (0, 0)


def test_a_batch_holds_at_least_one_frame_however_large():
    outbox = Outbox(max_frames=10, max_bytes=1000)
    fill(outbox, "x" * 50, "y")

    assert outbox.take(max_frames=10, max_bytes=10) == frames("x" * 50)


def test_full_by_frames_drops_the_oldest_and_counts_them():
    outbox = Outbox(max_frames=3, max_bytes=1000)
    fill(outbox, "a", "b", "c", "d", "e")

    assert outbox.take(10, 1000) == frames("c", "d", "e")
    assert (outbox.dropped, outbox.dropped_total, outbox.high_water) == (2, 2, 3)
    assert outbox.take_dropped() == 2
    assert (outbox.dropped, outbox.dropped_total) == (0, 2)


def test_full_by_bytes_drops_the_oldest():
    outbox = Outbox(max_frames=100, max_bytes=10)
    fill(outbox, "aaaa", "bbbb", "cccc")

    assert outbox.size == 8
    assert outbox.take(100, 100) == frames("bbbb", "cccc")
    assert outbox.dropped_total == 1


def test_a_frame_larger_than_the_bound_is_kept_alone():
    outbox = Outbox(max_frames=100, max_bytes=10)
    fill(outbox, "a", "x" * 20)

    assert outbox.take(100, 100) == frames("x" * 20)
    assert outbox.dropped_total == 1


def test_put_back_returns_a_failed_batch_to_the_head():
    outbox = Outbox(max_frames=10, max_bytes=1000)
    fill(outbox, "a", "b", "c")
    batch = outbox.take(2, 1000)
    fill(outbox, "d")

    outbox.put_back(batch)

    assert outbox.take(10, 1000) == frames("a", "b", "c", "d")
    assert outbox.dropped_total == 0


def test_put_back_drops_the_oldest_of_the_batch_when_full():
    outbox = Outbox(max_frames=4, max_bytes=1000)
    fill(outbox, "a", "b", "c")
    batch = outbox.take(3, 1000)
    fill(outbox, "d", "e")

    outbox.put_back(batch)

    assert outbox.take(10, 1000) == frames("b", "c", "d", "e")
    assert outbox.dropped_total == 1
    assert outbox.high_water == 4


def test_clear_empties_it_and_says_how_many_went():
    outbox = Outbox(max_frames=10, max_bytes=1000)
    fill(outbox, "a", "b")

    assert outbox.clear() == 2
    assert (len(outbox), outbox.size) == (0, 0)


@pytest.mark.parametrize(("max_frames", "max_bytes"), [(0, 10), (10, 0)])
def test_bounds_must_hold_something(max_frames, max_bytes):
    with pytest.raises(ValueError, match="at least one"):
        Outbox(max_frames, max_bytes)
