"""client.mjs: its logic against a scripted socket, and against the real server, in Chromium."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient
from playwright.async_api import Page, Route

from server.state import STATE
from tests.meetings.helpers import guest
from tests.pages.conftest import BrowserFactory
from tests.pages.helpers import cell, week_poll

CHECKS = Path(__file__).with_name("client_checks.mjs")
CHECK_NAMES = re.findall(r"^export async function (check_\w+)", CHECKS.read_text(), re.MULTILINE)


async def blank_page(browser: BrowserFactory, client: TestClient[Any, Any]) -> Page:
    """Open a page of the test server's origin that may import modules (and the checks)."""
    page = await (await browser()).new_page()

    async def serve_checks(route: Route) -> None:
        await route.fulfill(body=CHECKS.read_text(), content_type="text/javascript")

    await page.route("**/__checks__.mjs", serve_checks)
    await page.goto(str(client.make_url("/health")))
    return page


RUN_ALL = """async (names) => {
  const checks = await import('/__checks__.mjs');
  const failures = {};
  for (const name of names) {
    try { await checks[name](); } catch (err) { failures[name] = String(err.stack || err); }
  }
  return failures;
}"""


async def test_client_logic_against_a_scripted_socket(client, browser):
    assert len(CHECK_NAMES) >= 10
    page = await blank_page(browser, client)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # One page runs every check (a browser per check would cost seconds each).
    assert await page.evaluate(RUN_ALL, CHECK_NAMES) == {}
    assert errors == []


CONNECT = """async ([credentials, topic]) => {
  const { Client } = await import('/m/static/client.mjs');
  const client = new Client({ auth: () => credentials, backoff: { initialMs: 50, maxMs: 200 } });
  window.seen = { events: [], closed: [], ready: [] };
  client.on('event', (e) => window.seen.events.push([e.topic, e.seq, e.name]));
  client.on('closed', (c) => window.seen.closed.push([c.code, c.retrying, c.error && c.error.code]));
  client.on('ready', (r) => window.seen.ready.push(r.replayed));
  window.client = client;
  client.start();
  if (topic) await client.subscribe(topic);
  else await new Promise((resolve) => client.on('ready', resolve));
  return client.state;
}"""


async def test_resume_against_the_server_replays_what_was_missed(client, browser, device, token):
    ana = await device("ana")
    meeting = await week_poll(ana)
    page = await blank_page(browser, client)
    topic = f"meeting:{meeting['id']}"
    assert await page.evaluate(CONNECT, [{"token": token("ben")}, topic]) == "ready"
    gus = await guest(client, meeting["share_token"])
    joined = await gus.ok(
        "meeting.join", {"share_token": meeting["share_token"], "display_name": "Gus"}
    )
    await page.wait_for_function("window.seen.events.length === 1")
    await page.context.set_offline(True)  # no reconnect before the paint below
    for conn in client.server.app[STATE].connections:
        if conn.user_id == "ben":
            conn.out.transport.abort()
    await page.wait_for_function("window.seen.closed.length === 1")
    data = {"participant_id": joined["participant"]["id"], "cells": [cell(0, 0)]}
    await gus.ok("meeting.availability.set", data)
    await page.context.set_offline(False)
    await page.wait_for_function("window.seen.ready.length === 2")
    assert await page.evaluate("window.seen.ready") == [0, 1]
    events = await page.evaluate("window.seen.events")
    assert [name for _, _, name in events] == [
        "meeting_participant.created",
        "meeting_availability.updated",
    ]
    assert [seq for _, seq, _ in events] == [events[0][1], events[0][1] + 1]
    assert (await page.evaluate("window.seen.closed"))[0][:2] == [1006, True]


async def test_a_refused_token_is_not_tried_again(client, browser):
    page = await blank_page(browser, client)
    await page.evaluate(
        "c => import('/m/static/client.mjs').then(({ Client }) => {"
        "  window.refusals = []; window.client = new Client({ auth: () => c });"
        "  window.client.on('closed', (e) => window.refusals.push([e.code, e.retrying, e.error.code]));"
        "  window.client.start(); })",
        {"token": "not-a-token"},
    )
    await page.wait_for_function("window.refusals.length === 1")
    await page.wait_for_timeout(700)  # longer than the first backoff
    assert await page.evaluate("[window.refusals, window.client.state]") == [
        [[4401, False, "unauthorized"]],
        "stopped",
    ]
