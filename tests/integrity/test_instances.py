"""Three instances on one PostgreSQL and one Redis: every device gets each event of its user once."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.conftest import requires_postgres, requires_redis
from tests.wsclient import Device

pytestmark = [requires_postgres, requires_redis]

USERS = ("ana", "ben", "cy")
STARTS = 15  # timers each device starts, all devices at once


async def start_timers(device: Device) -> list[str]:
    """Start ``STARTS`` timers one after another; return their ids."""
    return [(await device.ok("timer.start", {"allocated_ms": 60_000}))["id"] for _ in range(STARTS)]


async def test_every_device_on_three_instances_gets_each_event_of_its_user_once(
    over_redis: dict[str, Any], instances: Any, devices: Any
) -> None:
    # Only the fan-out may carry events between instances: no sweep within the test.
    servers = await instances(3, hub_sweep_s=60, **over_redis)
    # Each user has one device on each instance.
    fleet = {user: await devices(servers, user, user, user) for user in USERS}

    started = await asyncio.gather(*(start_timers(d) for group in fleet.values() for d in group))

    per_user = len(servers) * STARTS
    for n, (user, group) in enumerate(fleet.items()):
        ids = {timer for made in started[3 * n : 3 * n + 3] for timer in made}
        for device in group:
            events = await device.wait_events(per_user, timeout=20)
            assert [e["seq"] for e in events] == list(range(1, per_user + 1)), user
            assert {e["topic"] for e in events} == {f"user:{user}"}
            assert {e["data"]["id"] for e in events} == ids
    # Anything delivered twice or to the wrong user would show after a last event.
    for user, group in fleet.items():
        await group[0].ok("timer.start", {"allocated_ms": 60_000})
        for device in group:
            events = await device.wait_events(per_user + 1)
            assert [e["seq"] for e in events] == list(range(1, per_user + 2)), user
