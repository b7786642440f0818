"""The collector's policy: survivors are frozen until the next full collection, which frees
the cycles among them (server/collector.py)."""

from __future__ import annotations

import asyncio
import gc
import weakref

from server.collector import Tenure


class Node:
    """An object that can take part in a reference cycle."""

    def __init__(self) -> None:
        self.other: Node | None = None


def cycle() -> weakref.ref[Node]:
    """Make a two-node cycle; return a weak reference to it (only a strong one the caller
    takes keeps it alive)."""
    a, b = Node(), Node()
    a.other, b.other = b, a
    return weakref.ref(a)


async def test_a_cycle_that_survived_a_collection_waits_for_the_next_full_one():
    gc.disable()  # only the collections this test runs
    gc.collect()
    frozen = gc.get_freeze_count()
    tenure = Tenure(asyncio.get_running_loop(), full_every=3)
    tenure.install()
    try:
        kept = cycle()
        held = kept()
        gc.collect(0)  # 1: the cycle survives (held) and is frozen
        assert gc.get_freeze_count() > frozen
        del held
        gc.collect(0)  # 2: frozen, the garbage cycle is not walked
        assert kept() is not None
        gc.collect(1)  # 3: a middle collection neither; now a full one is due
        assert kept() is not None
        assert gc.get_freeze_count() == 0  # everything is back with the collector
        gc.collect(0)  # while it is due, nothing is frozen
        assert gc.get_freeze_count() == 0
        await asyncio.sleep(0)  # the loop runs the full collection
        assert kept() is None
        fresh = cycle()
        still = fresh()
        gc.collect(0)  # after it, survivors are frozen again
        assert gc.get_freeze_count() > 0
        del still
    finally:
        tenure.uninstall()
        gc.enable()
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert fresh() is None


async def test_a_full_collection_cpython_starts_does_not_end_the_wait():
    gc.disable()
    gc.collect()
    tenure = Tenure(asyncio.get_running_loop(), full_every=2)
    tenure.install()
    try:
        kept = cycle()
        held = kept()
        gc.collect(0)  # 1: frozen
        del held
        gc.collect(2)  # 2: walks only what is not frozen; counted, and a full one is due
        assert kept() is not None
        await asyncio.sleep(0)
        assert kept() is None
    finally:
        tenure.uninstall()
        gc.enable()
