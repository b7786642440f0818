"""run_uncut: a read its caller's cancellation does not cut."""

from __future__ import annotations

import asyncio

import pytest

from server.storage.uncut import run_uncut


async def test_a_cancelled_caller_waits_for_the_read_then_is_cancelled():
    outcomes: list[str] = []
    started = asyncio.Event()

    async def read() -> int:
        started.set()
        try:
            await asyncio.sleep(0.05)
        except asyncio.CancelledError:
            outcomes.append("cut")
            raise
        outcomes.append("read")
        return 1

    caller = asyncio.ensure_future(run_uncut(read()))
    await started.wait()
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert outcomes == ["read"]


async def test_a_read_gives_its_result_or_its_error():
    async def fails() -> int:
        raise LookupError("gone")

    assert await run_uncut(asyncio.sleep(0, result=7)) == 7
    with pytest.raises(LookupError):
        await run_uncut(fails())
