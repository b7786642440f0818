"""Tick frames: one per interval per connection, aligned, with exact clocks."""

from __future__ import annotations

import asyncio
from datetime import datetime


def ms(stamp: str) -> int:
    return int(datetime.fromisoformat(stamp).timestamp() * 1000)


async def next_tick(dev, timeout: float = 3.0) -> dict:
    async with asyncio.timeout(timeout):
        while True:
            frame = await dev.pump()
            if frame["type"] == "tick":
                return frame


async def test_ticks_carry_running_timers_aligned_to_the_interval(device):
    dev = await device()
    timer = await dev.ok("timer.start", {"allocated_ms": 100})
    paused = await dev.ok("timer.start", {"allocated_ms": 60_000})
    await dev.ok("timer.pause", {"id": paused["id"]})
    assert await dev.ok("ticks.subscribe", {"interval_ms": 250}) == {"interval_ms": 250}
    first = await next_tick(dev)
    second = await next_tick(dev)
    for tick in (first, second):
        assert ms(tick["server_time"]) % 250 < 50
        assert [t["id"] for t in tick["timers"]] == [timer["id"]]
    entry = second["timers"][0]
    assert entry["owner"] == "alice"
    assert entry["status"] == "running"
    assert entry["remaining_ms"] == max(0, 100 - entry["elapsed_ms"])
    assert entry["overtime_ms"] == max(0, entry["elapsed_ms"] - 100)
    assert 200 <= ms(second["server_time"]) - ms(first["server_time"]) <= 300


async def test_tick_elapsed_matches_the_timer_clock(device):
    dev = await device()
    await dev.ok("ticks.subscribe", {"interval_ms": 250})
    timer = await dev.ok("timer.start", {"allocated_ms": 600_000})
    tick = await next_tick(dev)
    while not tick["timers"]:
        tick = await next_tick(dev)
    expected = timer["elapsed_ms"] + ms(tick["server_time"]) - ms(timer["server_time"])
    assert tick["timers"][0]["elapsed_ms"] == expected


async def test_ticks_follow_pause_and_stop(device):
    dev = await device()
    timer = await dev.ok("timer.start", {"allocated_ms": 600_000})
    await dev.ok("ticks.subscribe", {"interval_ms": 250})
    assert (await next_tick(dev))["timers"]
    await dev.ok("timer.pause", {"id": timer["id"]})
    await next_tick(dev)
    assert (await next_tick(dev))["timers"] == []


async def test_ticks_unsubscribe_stops_them(device):
    dev = await device()
    await dev.ok("ticks.subscribe", {"interval_ms": 250})
    await next_tick(dev)
    assert await dev.ok("ticks.unsubscribe") == {"interval_ms": None}
    dev.ticks.clear()
    await asyncio.sleep(0.6)
    await dev.ok("ping")
    assert dev.ticks == []


async def test_tick_interval_bounds(device):
    dev = await device()
    assert (await dev.error("ticks.subscribe", {"interval_ms": 100}))["code"] == "validation_error"
    assert (await dev.error("ticks.subscribe", {"interval_ms": 60_001}))[
        "code"
    ] == "validation_error"
    assert await dev.ok("ticks.subscribe") == {"interval_ms": 1000}


async def test_one_tick_per_interval_per_connection(device):
    dev = await device()
    await dev.ok("ticks.subscribe", {"interval_ms": 250})
    await dev.ok("ticks.subscribe", {"interval_ms": 250})
    await next_tick(dev)
    dev.ticks.clear()
    await asyncio.sleep(1.05)
    await dev.ok("ping")
    stamps = [ms(t["server_time"]) for t in dev.ticks]
    assert 3 <= len(stamps) <= 5
    assert len(set(stamps)) == len(stamps)
