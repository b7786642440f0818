"""The poll page end to end in Chromium: join, paint, live heatmap, resume, best windows."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from playwright.async_api import Page

from tests.meetings.helpers import guest
from tests.pages.conftest import PHONE, keep_artefact, screenshot
from tests.pages.helpers import (
    at,
    cell,
    cut,
    drag,
    join,
    open_page,
    page_url,
    wait_until,
    week_poll,
)
from tests.wsclient import Device

SEEN_WITHIN_MS = 1000
EN_DASH = "\u2013"


def span(day: str, start: str, end: str) -> str:
    """Return how the page names a window: its day, then its times joined by an en dash."""
    return f"{day}, {start}{EN_DASH}{end}"


FIRST_WINDOW = "document.querySelector('#windows li strong')?.textContent"
IDLE = "window.pollPage.pendingOwn === 0"


async def painted_by(page: Page, start: str, name: str, timeout: float = 5000) -> None:
    """Wait until the page's cell ``start`` names ``name`` among those free."""
    await page.wait_for_selector(f'{at(start)}[title*="{name}"]', timeout=timeout)


async def participants(owner: Device, meeting_id: str) -> list[dict[str, Any]]:
    """Return the poll's participants as the server has them."""
    detail = await owner.ok("meeting.get", {"id": meeting_id})
    return list(detail["participants"])


def no_page_errors(page: Page) -> None:
    """Assert the page raised nothing (refused connections while offline are expected)."""
    errors = [e for e in page.errors if "WebSocket connection to" not in e]  # type: ignore[attr-defined]
    assert errors == []


async def test_two_browsers_painting_at_once_see_each_other_within_a_second(
    client, device, browser, tmp_path
):
    ana = await device("ana")
    meeting = await week_poll(ana)
    url = page_url(client, meeting["share_token"])
    first, second = await asyncio.gather(browser("first"), browser("second"))
    gus_page, uma_page = await asyncio.gather(open_page(first, url), open_page(second, url))
    await asyncio.gather(join(gus_page, "Gus"), join(uma_page, "Uma"))

    async def paint_and_time(page: Page, other: Page, cells: tuple[str, str], name: str) -> float:
        await drag(page, *cells)
        started = time.monotonic()
        await painted_by(other, cells[1], name, timeout=SEEN_WITHIN_MS)
        return (time.monotonic() - started) * 1000

    waits = await asyncio.gather(
        paint_and_time(gus_page, uma_page, (cell(0, 0), cell(1, 3)), "Gus"),
        paint_and_time(uma_page, gus_page, (cell(1, 2), cell(2, 5)), "Uma"),
    )
    # Both see the overlap (Tuesday 10:00-11:00) as free for both.
    for page in (gus_page, uma_page):
        for slot in (2, 3):
            await page.wait_for_selector(f'{at(cell(1, slot))}[data-heat="5"]')
        assert await page.get_attribute(at(cell(1, 2)), "title") == "2 of 2 free: Gus, Uma"
        no_page_errors(page)
    stored = {p["display_name"]: p["available"] for p in await participants(ana, meeting["id"])}
    assert stored == {
        "Gus": sorted(cell(d, s) for d in (0, 1) for s in range(4)),
        "Uma": sorted(cell(d, s) for d in (1, 2) for s in range(2, 6)),
    }
    # Each page shows who else has the poll open, by name.
    # (A presence frame may come before the event naming its participant: the page shows
    # the names again when that event comes.)
    viewers = gus_page.locator("#viewers").filter(has_text="Viewing now (2)")
    await viewers.filter(has_text="Uma").wait_for(timeout=SEEN_WITHIN_MS)
    assert set((await viewers.inner_text()).split(": ", 1)[1].split(", ")) == {"you", "Uma"}
    report = tmp_path / "paint-latency.json"
    report.write_text(json.dumps({"seen_after_ms": [round(w, 1) for w in waits]}))
    keep_artefact(report)
    print(f"each page saw the other's paint after {waits[0]:.0f} ms and {waits[1]:.0f} ms")


async def test_a_cut_page_catches_up_on_reconnect_without_reloading(client, device, browser):
    ana = await device("ana")
    meeting = await week_poll(ana)
    context = await browser()
    page = await open_page(context, page_url(client, meeting["share_token"]))
    gus = await join(page, "Gus")
    await page.evaluate("window.marker = 'still the same document'")
    loads = await page.evaluate("window.pollPage.loads")

    await context.set_offline(True)  # the reconnects fail until the network is back
    await cut(client, gus)
    await page.wait_for_selector('#status[data-state="waiting"]')
    watcher = await guest(client, meeting["share_token"])
    cy = await watcher.ok(
        "meeting.join", {"share_token": meeting["share_token"], "display_name": "Cy"}
    )
    cy_id = cy["participant"]["id"]
    await watcher.ok("meeting.availability.set", {"participant_id": cy_id, "cells": [cell(3, 0)]})
    await page.keyboard.press("Tab")  # (nothing to do with the test: proves the page is alive)
    await drag(page, cell(4, 6), cell(4, 7))  # painted offline: sent after the reconnect
    await context.set_offline(False)

    await painted_by(page, cell(3, 0), "Cy")
    await page.wait_for_selector('#status[data-state="ready"]')
    assert await page.inner_text("#status") == "Live · caught up on 2 changes"
    assert await page.evaluate("[window.marker, window.pollPage.loads]") == [
        "still the same document",
        loads,
    ]
    # The paint made offline reached the server (sent again with its op_id).
    await watcher.wait_events(3)
    mine = [e for e in watcher.events if e["name"] == "meeting_availability.updated"]
    assert mine[-1]["data"]["participant_id"] == gus
    assert mine[-1]["data"]["available"] == [cell(4, 6), cell(4, 7)]
    no_page_errors(page)


async def test_a_page_too_far_behind_is_reset_and_reads_the_poll_again(
    start_server, token, browser
):
    server = await start_server(resume_max_events=1)  # two missed events are one too many
    ana = await Device.connect(server, token("ana"))
    meeting = await week_poll(ana)
    context = await browser()
    page = await open_page(context, page_url(server, meeting["share_token"]))
    gus = await join(page, "Gus")
    await context.set_offline(True)
    await cut(server, gus)
    await page.wait_for_selector('#status[data-state="waiting"]')
    watcher = await guest(server, meeting["share_token"])
    cy = await watcher.ok(
        "meeting.join", {"share_token": meeting["share_token"], "display_name": "Cy"}
    )
    data = {"participant_id": cy["participant"]["id"], "cells": [cell(2, 2)]}
    await watcher.ok("meeting.availability.set", data)
    await context.set_offline(False)
    await painted_by(page, cell(2, 2), "Cy")
    assert await page.evaluate("window.pollPage.loads") == 2  # the reset made it read again
    assert await page.inner_text("#status") == "Live"
    for dev in (ana, watcher):
        await dev.close()
    no_page_errors(page)


async def test_keyboard_moves_and_toggles_in_both_tiers(client, device, browser):
    ana = await device("ana")
    meeting = await week_poll(ana)
    page = await open_page(await browser(), page_url(client, meeting["share_token"]))
    gus = await join(page, "Gus")
    await page.focus(at(cell(0, 0)))
    for key in ("ArrowDown", "ArrowDown", "ArrowRight", "Space"):
        await page.keyboard.press(key)
    focused = await page.evaluate("document.activeElement.dataset.start")
    assert focused == cell(1, 2)
    await page.wait_for_selector(f'{at(cell(1, 2))}[aria-pressed="true"][data-mine="available"]')
    label = await page.get_attribute(at(cell(1, 2)), "aria-label")
    assert label == "Tuesday 3 March, 10:00 to 10:30. 1 of 1 free: Gus. You: available."
    await page.check("input[name=tier][value=if_need_be]")
    await page.focus(at(cell(1, 2)))
    for key in ("ArrowRight", "Enter", "ArrowLeft", "ArrowLeft", "ArrowUp", "Space"):
        await page.keyboard.press(key)
    await page.wait_for_selector(f'{at(cell(2, 2))}[data-mine="if_need_be"]')
    await page.wait_for_selector(f'{at(cell(0, 1))}[data-mine="if_need_be"]')
    # Toggling the focused cell again clears it; arrows stop at the grid's edge.
    for key in ("Space", "ArrowLeft", "ArrowUp", "ArrowUp"):
        await page.keyboard.press(key)
    assert await page.evaluate("document.activeElement.dataset.start") == cell(0, 0)
    await page.wait_for_selector(f"{at(cell(0, 1))}:not([data-mine])")

    async def stored() -> dict[str, Any]:
        (me,) = await participants(ana, meeting["id"])
        return {"id": me["id"], "available": me["available"], "if_need_be": me["if_need_be"]}

    expected = {"id": gus, "available": [cell(1, 2)], "if_need_be": [cell(2, 2)]}
    for _ in range(50):
        if await stored() == expected:
            break
        await asyncio.sleep(0.1)
    assert await stored() == expected
    grid = page.locator("#grid")
    assert await grid.get_attribute("role") == "grid"
    assert await page.locator("#grid button[tabindex='0']").count() == 1
    no_page_errors(page)


async def test_a_guest_comes_back_as_the_same_participant_after_a_reload(client, device, browser):
    ana = await device("ana")
    meeting = await week_poll(ana)
    context = await browser()
    url = page_url(client, meeting["share_token"])
    page = await open_page(context, url)
    gus = await join(page, "Gus")
    await drag(page, cell(0, 0), cell(0, 1))
    await wait_until(page, IDLE)
    await page.reload()
    await page.wait_for_selector("#me:not([hidden])")
    assert await page.evaluate("window.pollPage.you") == gus
    assert await page.inner_text("#me-name") == "Gus"
    assert await page.get_attribute(at(cell(0, 1)), "data-mine") == "available"
    other_tab = await open_page(context, url)
    await other_tab.wait_for_selector("#me:not([hidden])")
    assert await other_tab.evaluate("window.pollPage.you") == gus
    assert [p["id"] for p in await participants(ana, meeting["id"])] == [gus]
    # After the owner replaces the link, the new link still finds this browser's participant.
    rotated = await ana.ok("meeting.share.rotate", {"id": meeting["id"]})
    fresh = await open_page(context, page_url(client, rotated["share_token"]))
    await fresh.wait_for_selector("#me:not([hidden])")
    assert await fresh.evaluate("window.pollPage.you") == gus
    no_page_errors(page)


async def test_best_windows_follow_changes_and_controls(client, device, browser):
    ana = await device("ana")
    meeting = await week_poll(ana)
    page = await open_page(await browser(), page_url(client, meeting["share_token"]))
    assert await page.input_value("#duration") == "60"
    await page.wait_for_selector("#windows li.empty")
    painters = {}
    for name, cells in [("Bea", [cell(0, s) for s in range(4)]), ("Cy", [cell(0, 2), cell(0, 3)])]:
        dev = await guest(client, meeting["share_token"])
        joined = await dev.ok(
            "meeting.join", {"share_token": meeting["share_token"], "display_name": name}
        )
        painters[name] = (dev, joined["participant"]["id"])
        await dev.ok(
            "meeting.availability.set",
            {"participant_id": joined["participant"]["id"], "cells": cells},
        )
    first = page.locator("#windows li").first
    await page.fill("#min-people", "2")
    await wait_until(page, FIRST_WINDOW + " === '" + span("Mon 2 Mar", "10:00", "11:00") + "'")
    assert (
        await first.inner_text()
        == span("Mon 2 Mar", "10:00", "11:00") + "\n2 of 2 free · everyone can come"
    )
    assert await page.locator("#windows li").count() == 1
    # A change elsewhere moves the best window, live.
    bea, bea_id = painters["Bea"]
    await bea.ok(
        "meeting.availability.set",
        {"participant_id": bea_id, "cells": [cell(2, 0), cell(2, 1)]},
    )
    await page.wait_for_selector("#windows li.empty")
    await page.fill("#min-people", "1")
    await page.check(f"#people input[value='{bea_id}']")
    await wait_until(page, FIRST_WINDOW + " === '" + span("Wed 4 Mar", "09:00", "10:00") + "'")
    assert (
        await first.inner_text()
        == span("Wed 4 Mar", "09:00", "10:00") + "\n1 of 2 free · Missing: Cy"
    )
    no_page_errors(page)


async def test_viewers_elsewhere_see_their_own_times(client, device, browser):
    ana = await device("ana")
    meeting = await week_poll(ana)
    context = await browser(timezone_id="America/New_York")
    page = await open_page(context, page_url(client, meeting["share_token"]))
    rows = await page.locator("#grid tbody th").all_inner_texts()
    assert rows == ["03:00", "03:30", "04:00", "04:30", "05:00", "05:30", "06:00", "06:30"]
    assert await page.inner_text("#zone") == (
        "Times are in your time zone, America/New_York (the poll's is Europe/Berlin)."
    )
    # A watcher sees the heatmap but paints nothing.
    assert await page.get_attribute(at(cell(0, 0)), "aria-disabled") == "true"
    box = await page.locator(at(cell(0, 0))).bounding_box()
    assert box is not None
    await page.mouse.click(box["x"] + 5, box["y"] + 5)
    assert await page.get_attribute(at(cell(0, 0)), "data-mine") is None
    assert await page.evaluate("window.pollPage.pendingOwn") == 0


async def test_a_deleted_poll_closes_on_the_page(client, device, browser):
    ana = await device("ana")
    meeting = await week_poll(ana)
    page = await open_page(await browser(), page_url(client, meeting["share_token"]))
    await join(page, "Gus")
    await ana.ok("meeting.delete", {"id": meeting["id"]})
    await page.wait_for_selector("#gone:not([hidden])")
    assert await page.inner_text("#gone-title") == "This poll was deleted"
    assert await page.is_hidden("#main")
    assert await page.inner_text("#status") == "Closed"


async def test_an_unknown_or_closed_link_says_the_poll_does_not_exist(client, device, browser):
    ana = await device("ana")
    private = await week_poll(ana, level="private")
    context = await browser()
    for link in ("nope", private["share_token"]):
        page = await open_page(context, page_url(client, link))
        await page.wait_for_selector("#gone:not([hidden])")
        assert await page.inner_text("#gone-title") == "This poll does not exist"


async def test_a_signed_in_owner_sees_the_poll_and_a_user_joins_by_name(
    client, device, browser, token
):
    ana = await device("ana")
    meeting = await week_poll(ana)
    url = page_url(client, meeting["share_token"])
    owner = await open_page(await browser("owner"), f"{url}#token={token('ana')}")
    await owner.wait_for_selector("#board:not([hidden])")
    assert owner.url == url  # the token left the address bar
    assert await owner.inner_text("#signin-summary") == "Signed in as ana"
    assert await owner.is_visible("#join")
    ben = await open_page(await browser("ben"), f"{url}#token={token('ben', name='Ben')}")
    assert await ben.input_value("#join-name") == "Ben"
    ben_id = await join(ben, "Ben")
    await drag(ben, cell(2, 0), cell(2, 0))
    await painted_by(owner, cell(2, 0), "Ben")
    (stored,) = await participants(ana, meeting["id"])
    assert (stored["id"], stored["user_id"]) == (ben_id, "ben")
    no_page_errors(ben)


async def test_a_refused_sign_in_leaves_a_guest_who_can_still_join(client, device, browser):
    ana = await device("ana")
    meeting = await week_poll(ana)
    url = page_url(client, meeting["share_token"])
    page = await open_page(await browser(), f"{url}#token=not-a-token")
    await page.wait_for_selector("#notice:not([hidden])")
    assert await page.inner_text("#notice") == (
        "Your sign-in was refused (it may have expired); you are a guest again."
    )
    await page.wait_for_selector("#board:not([hidden])")
    assert await page.inner_text("#signin-summary") == "Sign in instead"
    gus = await join(page, "Gus")
    (stored,) = await participants(ana, meeting["id"])
    assert (stored["id"], stored["user_id"]) == (gus, None)


async def test_touch_paints_on_a_phone_and_both_sizes_look_right(client, device, browser, tmp_path):
    ana = await device("ana")
    meeting = await week_poll(ana)
    url = page_url(client, meeting["share_token"])
    for name, cells in [("Bea", range(6)), ("Cy", range(2, 8))]:
        dev = await guest(client, meeting["share_token"])
        joined = await dev.ok(
            "meeting.join", {"share_token": meeting["share_token"], "display_name": name}
        )
        starts = [cell(d, s) for d in (0, 1, 3) for s in cells]
        await dev.ok(
            "meeting.availability.set",
            {"participant_id": joined["participant"]["id"], "cells": starts},
        )
    phone = await open_page(await browser("phone", **PHONE), url)
    await join(phone, "Gus")
    await phone.locator(at(cell(1, 4))).scroll_into_view_if_needed()
    scrolled = "[window.scrollY, document.querySelector('#scroller').scrollLeft]"
    before = await phone.evaluate(scrolled)
    await touch_drag(phone, cell(0, 1), cell(1, 4))
    await phone.wait_for_selector(f'{at(cell(1, 4))}[data-mine="available"]')
    assert await phone.evaluate(scrolled) == before  # the finger painted; it did not scroll
    # (A tap right after the drag can be swallowed by Chromium's gesture detection; the
    # switch is a plain radio, so a click stands in for it.)
    await phone.check("input[name=tier][value=if_need_be]")
    await touch_drag(phone, cell(1, 5), cell(1, 5))
    await phone.wait_for_selector(f'{at(cell(1, 5))}[data-mine="if_need_be"]')
    await wait_until(phone, IDLE)
    desktop = await open_page(await browser("desktop"), url)
    await join(desktop, "Hal")
    await drag(desktop, cell(3, 2), cell(4, 5))
    await painted_by(desktop, cell(1, 4), "Gus")
    await desktop.hover(at(cell(1, 3)))
    await painted_by(phone, cell(4, 5), "Hal")
    for page in (desktop, phone):  # the windows shown are those of the latest cells
        await page.wait_for_selector('#windows[aria-busy="false"] li:not(.empty)')
    best = await desktop.locator("#windows li").all_inner_texts()
    assert best == await phone.locator("#windows li").all_inner_texts()
    assert best[:3] == [
        span("Mon 2 Mar", "10:00", "11:00") + "\n3 of 4 free · Missing: Hal",
        span("Tue 3 Mar", "10:00", "11:00") + "\n3 of 4 free · Missing: Hal",
        span("Thu 5 Mar", "10:00", "11:00") + "\n3 of 4 free · Missing: Gus",
    ]
    for page, name in [(desktop, "poll-page-desktop.png"), (phone, "poll-page-phone.png")]:
        path = await screenshot(page, tmp_path / name)
        assert path.stat().st_size > 10_000
        no_page_errors(page)


async def touch_drag(page: Page, start: str, end: str) -> None:
    """Drag a finger from one cell to another (touch events, as a phone sends them)."""
    await page.locator(at(start)).scroll_into_view_if_needed()
    first = await page.locator(at(start)).bounding_box()
    last = await page.locator(at(end)).bounding_box()
    assert first is not None
    assert last is not None
    cdp = await page.context.new_cdp_session(page)
    x0, y0 = first["x"] + first["width"] / 2, first["y"] + first["height"] / 2
    x1, y1 = last["x"] + last["width"] / 2, last["y"] + last["height"] / 2
    await cdp.send(
        "Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x0, "y": y0}]}
    )
    for i in range(1, 9):
        point = {"x": x0 + (x1 - x0) * i / 8, "y": y0 + (y1 - y0) * i / 8}
        await cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [point]})
    await cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
