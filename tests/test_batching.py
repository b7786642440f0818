"""The micro-batcher: one read answers every key asked for meanwhile, never an older read."""

from __future__ import annotations

import asyncio

import pytest

from server import batching
from server.batching import HERD_GAP_S, MAX_BATCH, Batcher


class Store:
    """Values that change, and a log of every read of many keys."""

    def __init__(self) -> None:
        self.values: dict[str, int] = {}
        self.reads: list[list[str]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.started = asyncio.Event()

    async def read_many(self, keys: list[str]) -> dict[str, int]:
        """Read ``keys`` as they are when the read starts; wait at the gate."""
        self.reads.append(keys)
        self.started.set()
        seen = {key: self.values.get(key, 0) for key in keys}
        await self.gate.wait()
        if "boom" in keys:
            raise RuntimeError("the read failed")
        return seen


async def test_keys_asked_for_together_share_one_read() -> None:
    store = Store()
    batcher = Batcher(store.read_many, "test")
    store.values = {"a": 1, "b": 2}
    assert await asyncio.gather(*(batcher.get(k) for k in "abab")) == [1, 2, 1, 2]
    assert store.reads == [["a", "b"]]


async def test_a_key_asked_for_during_a_read_waits_for_the_next_read() -> None:
    store = Store()
    batcher = Batcher(store.read_many, "test")
    store.gate.clear()
    first = asyncio.ensure_future(batcher.get("a"))
    await asyncio.wait_for(store.started.wait(), 1)
    assert store.reads == [["a"]]
    store.values["a"] = 5  # changed after the first read began
    second = asyncio.ensure_future(batcher.get("a"))
    store.gate.set()
    assert (await first, await second) == (0, 5)
    assert store.reads == [["a"], ["a"]]


async def test_a_failed_read_fails_its_callers_and_the_next_read_runs() -> None:
    store = Store()
    batcher = Batcher(store.read_many, "test")
    results = await asyncio.gather(batcher.get("boom"), batcher.get("a"), return_exceptions=True)
    assert [type(r) for r in results] == [RuntimeError, RuntimeError]
    assert await batcher.get("a") == 0


async def test_a_read_that_leaves_a_key_out_fails_its_callers() -> None:
    async def forgetful(keys: list[str]) -> dict[str, int]:
        return {}

    batcher = Batcher(forgetful, "test")
    with pytest.raises(KeyError):
        await asyncio.wait_for(batcher.get("a"), 1)


async def test_a_caller_that_gives_up_leaves_the_others_their_answer() -> None:
    store = Store()
    batcher = Batcher(store.read_many, "test")
    store.gate.clear()
    impatient = asyncio.ensure_future(batcher.get("a"))
    patient = asyncio.ensure_future(batcher.get("a"))
    await asyncio.wait_for(store.started.wait(), 1)
    impatient.cancel()
    store.gate.set()
    assert await patient == 0
    with pytest.raises(asyncio.CancelledError):
        await impatient


async def test_a_burst_is_read_in_bounded_batches() -> None:
    store = Store()
    batcher = Batcher(store.read_many, "test")
    keys = [f"k{i}" for i in range(MAX_BATCH + 1)]
    await asyncio.gather(*(batcher.get(k) for k in keys))
    assert [len(read) for read in store.reads] == [MAX_BATCH, 1]


async def test_stop_cancels_the_read_under_way() -> None:
    store = Store()
    batcher = Batcher(store.read_many, "test")
    store.gate.clear()
    waiting = asyncio.ensure_future(batcher.get("a"))
    await asyncio.wait_for(store.started.wait(), 1)
    await batcher.stop()
    with pytest.raises(asyncio.CancelledError):
        await waiting


async def test_a_key_asked_for_after_a_quiet_spell_is_read_at_once() -> None:
    store = Store()
    batcher = Batcher(store.read_many, "test")
    assert await batcher.get("first") == 0
    await asyncio.sleep(HERD_GAP_S * 1.5)  # no herd: nobody else is coming
    second = asyncio.ensure_future(batcher.get("second"))
    for _ in range(10):
        await asyncio.sleep(0)
    assert second.done()
    assert store.reads == [["first"], ["second"]]


async def test_keys_asked_for_right_after_a_read_gather_into_the_next(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A longer window than 2 ms: a busy machine's pause between turns must not end it.
    monkeypatch.setattr(batching, "GATHER_S", 0.2)
    store = Store()
    batcher = Batcher(store.read_many, "test")
    assert await batcher.get("first") == 0
    # Right after a read (keys keep coming): the next read waits GATHER_S for more.
    early = asyncio.ensure_future(batcher.get("a"))
    for _ in range(5):
        await asyncio.sleep(0)
    assert not early.done()
    late = asyncio.ensure_future(batcher.get("b"))
    assert (await early, await late) == (0, 0)
    assert store.reads == [["first"], ["a", "b"]]
