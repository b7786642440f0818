"""A first end-to-end path: start a timer and see the event."""

from __future__ import annotations


async def test_start_timer_reaches_own_device(device):
    phone = await device("alice")
    laptop = await device("alice")
    timer = await phone.ok("timer.start", {"allocated_ms": 60_000, "title": "focus"})
    assert timer["status"] == "RUNNING"
    events = await laptop.wait_events(1)
    assert events[0]["name"] == "timer.started"
    assert events[0]["data"]["id"] == timer["id"]
