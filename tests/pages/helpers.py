"""Poll page helpers: a public poll, a page on its link, joining, cells by their start."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp.test_utils import TestClient
from playwright.async_api import BrowserContext, Page

from server.state import STATE
from tests.meetings.helpers import poll
from tests.wsclient import Device

# Monday 2026-03-02 .. Friday 2026-03-06, 09:00-13:00 in Berlin, 30-minute cells: 5 x 8.
WEEK = {
    "title": "Sprint planning",
    "description": "Two hours, any morning this week",
    "start_date": "2026-03-02",
    "end_date": "2026-03-06",
    "available_days": [0, 1, 2, 3, 4],
    "start_time": "09:00",
    "end_time": "13:00",
    "time_slot_minutes": 30,
}
# Cell starts in UTC (Berlin is UTC+1 that week): day 0..4, slot 0..7.
DAYS = ["2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05", "2026-03-06"]


def cell(day: int, slot: int) -> str:
    """Return the start of the cell of ``day`` (0 = Monday) and ``slot`` (0 = 09:00 Berlin)."""
    minutes = 8 * 60 + 30 * slot
    return f"{DAYS[day]}T{minutes // 60:02d}:{minutes % 60:02d}:00.000Z"


def at(start: str) -> str:
    """Return the selector of a grid cell by its start."""
    return f'#grid button[data-start="{start}"]'


async def week_poll(owner: Device, **fields: Any) -> dict[str, Any]:
    """Create the public week poll of ``owner``; return it with its link."""
    return await poll(owner, **{**WEEK, "timezone": "Europe/Berlin", **fields})


def page_url(client: TestClient[Any, Any], share_token: str) -> str:
    """Return the poll page's URL on the test server."""
    return str(client.make_url(f"/m/{share_token}"))


async def open_page(context: BrowserContext, url: str) -> Page:
    """Open the page and wait until it is connected and shows the poll (or says it is gone)."""
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
    page.errors = errors  # type: ignore[attr-defined]
    await page.goto(url)
    await page.wait_for_selector("#board:not([hidden]), #gone:not([hidden]), #join:not([hidden])")
    return page


async def wait_until(page: Page, function: str, timeout: float = 5.0) -> Any:
    """Poll a function in the page until it returns something truthy; return that.

    (Playwright's wait_for_function evaluates its predicate from a string, which the
    page's Content-Security-Policy rightly refuses; page.evaluate is not subject to it.)
    """
    async with asyncio.timeout(timeout):
        while not (value := await page.evaluate(function)):  # noqa: ASYNC110 (no event to await)
            await asyncio.sleep(0.02)
    return value


async def join(page: Page, name: str) -> str:
    """Join the poll on the page under ``name``; return the participant id."""
    await page.fill("#join-name", name)
    await page.click("#join button[type=submit]")
    await page.wait_for_selector("#me:not([hidden])")
    you: str = await page.evaluate("window.pollPage.you")
    return you


async def drag(page: Page, start: str, end: str) -> None:
    """Paint from one cell to another with the mouse."""
    first = await page.locator(at(start)).bounding_box()
    last = await page.locator(at(end)).bounding_box()
    assert first is not None
    assert last is not None
    await page.mouse.move(first["x"] + first["width"] / 2, first["y"] + first["height"] / 2)
    await page.mouse.down()
    await page.mouse.move(last["x"] + last["width"] / 2, last["y"] + last["height"] / 2, steps=5)
    await page.mouse.up()


async def cut(client: TestClient[Any, Any], participant_id: str) -> None:
    """Drop the socket of a guest participant's page from the server side, without a close frame."""
    connections = [
        conn
        for conn in client.server.app[STATE].connections
        if conn.guest is not None and conn.guest.participant_id == participant_id
    ]
    assert connections, f"no connection of participant {participant_id}"
    for conn in connections:
        conn.out.transport.abort()
