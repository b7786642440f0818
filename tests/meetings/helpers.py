"""Meeting test helpers: a poll of the owner, guests on its link."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from tests.wsclient import Device

# Monday 2026-03-02 .. Sunday 2026-03-08, 09:00-12:00 in 30-minute cells.
POLL = {
    "title": "Planning",
    "start_date": "2026-03-02",
    "end_date": "2026-03-08",
    "available_days": [4, 0, 2],
    "start_time": "09:00",
    "end_time": "12:00",
    "time_slot_minutes": 30,
    "timezone": "Europe/Berlin",
}


async def poll(owner: Device, level: str = "public", **fields: Any) -> dict[str, Any]:
    """Create a poll of ``owner`` at ``level``; return it (with its link)."""
    meeting = await owner.ok("meeting.create", {**POLL, **fields})
    if level != "private":
        data = {"resource_type": "meeting", "resource_id": meeting["id"], "level": level}
        await owner.ok("visibility.set", data)
    return dict(meeting)


async def guest_auth(
    client: TestClient[Any, Any], share_token: str, participant_token: str | None
) -> tuple[Device, dict[str, Any]]:
    """Open a socket, send a guest's auth frame, and return it with the first answer."""
    dev = await Device.open(client)
    credentials = {"meeting": share_token}
    if participant_token is not None:
        credentials["participant_token"] = participant_token
    await dev.ws.send_json({"type": "auth", "guest": credentials})
    return dev, await dev.receive()


async def guest(
    client: TestClient[Any, Any], share_token: str, participant_token: str | None = None
) -> Device:
    """Connect a guest on a poll's link (as a returning participant with a token)."""
    dev, frame = await guest_auth(client, share_token, participant_token)
    if frame["type"] != "ready":
        raise AssertionError(f"guest refused: {frame}")
    dev.ready = frame
    return dev


async def refused_guest(
    client: TestClient[Any, Any], share_token: str, participant_token: str | None = None
) -> tuple[dict[str, Any], int | None]:
    """Connect a guest that must be refused; return the error and the close code."""
    dev, error = await guest_auth(client, share_token, participant_token)
    return error["error"], await dev.wait_close()


async def event_named(dev: Device, name: str, timeout: float = 5.0) -> dict[str, Any]:
    """Wait for the first event called ``name`` the device got (or gets); return it."""
    seen = 0
    while True:
        for event in dev.events[seen:]:
            if event["name"] == name:
                return event
        seen = len(dev.events)
        await dev.pump(timeout)
