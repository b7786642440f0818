"""Schedules over REST: streamed windows, pages, bootstrap windows, and the iCalendar feed."""

from __future__ import annotations

import asyncio
import logging

import icalendar
import pytest
from aiohttp.test_utils import TestClient

from server.app import create_app
from tests.conftest import ServedLikeProduction
from tests.domain.test_schedules import weekly
from tests.rest.test_rest import bearer
from tests.wsclient import Device

NY = "America/New_York"


@pytest.fixture
async def dev(client, token):
    device = await Device.connect(client, token())
    yield device
    await device.close()


async def test_a_window_streams_whole_and_pages_with_a_limit(client, token, dev):
    series = await weekly(dev)
    query = "start=2026-03-01T00:00:00Z&end=2026-06-01T00:00:00Z"
    response = await client.get(f"/v1/schedules?{query}", headers=bearer(token()))
    assert response.status == 200
    body = await response.json()
    assert body["next_cursor"] is None
    assert len(body["items"]) == 13
    assert {i["series_id"] for i in body["items"]} == {series["id"]}
    page = await (
        await client.get(f"/v1/schedules?{query}&limit=5", headers=bearer(token()))
    ).json()
    assert page["items"] == body["items"][:5]
    nxt = await (
        await client.get(
            f"/v1/schedules?{query}&limit=5&cursor={page['next_cursor']}", headers=bearer(token())
        )
    ).json()
    assert nxt["items"] == body["items"][5:10]
    zoned = await (
        await client.get(f"/v1/schedules?{query}&tz={NY}&limit=2", headers=bearer(token()))
    ).json()
    assert [i["start_time"] for i in zoned["items"]] == [
        "2026-03-02T09:00:00.000-05:00",
        "2026-03-09T09:00:00.000-04:00",
    ]


@pytest.mark.parametrize(
    "query",
    [
        "start=2026-03-02T00:00:00Z",
        "start=2026-03-02T00:00:00Z&end=2026-03-01T00:00:00Z",
        "start=2020-01-01T00:00:00Z&end=2026-01-01T00:00:00Z",
        "start=2026-03-02&end=2026-03-09",
        "start=2026-03-02T00:00:00Z&end=2026-03-09T00:00:00Z&tz=Nowhere/Land",
        "start=2026-03-02T00:00:00Z&end=2026-03-09T00:00:00Z&tag_ids=nope",
    ],
)
async def test_bad_windows_are_422(client, token, dev, query):
    response = await client.get(f"/v1/schedules?{query}", headers=bearer(token()))
    assert response.status == 422
    assert (await response.json())["error"]["code"] == "validation_error"


async def test_bootstrap_includes_the_window_the_client_names(client, token, dev):
    await weekly(dev)
    plain = await (await client.get("/v1/bootstrap", headers=bearer(token()))).json()
    assert "schedules" not in plain
    query = "schedules_start=2026-03-01T00:00:00Z&schedules_end=2026-03-15T00:00:00Z"
    body = await (await client.get(f"/v1/bootstrap?{query}", headers=bearer(token()))).json()
    assert [i["start_time"] for i in body["schedules"]] == [
        "2026-03-02T14:00:00.000Z",
        "2026-03-09T13:00:00.000Z",
    ]
    assert body["schedules_next_cursor"] is None
    half = await client.get(
        "/v1/bootstrap?schedules_start=2026-03-01T00:00:00Z", headers=bearer(token())
    )
    assert half.status == 422


async def test_the_feed_serves_series_exceptions_and_zones(client, dev):
    series = await weekly(dev)
    await weekly(
        dev,
        title="Seoul sync",
        timezone="Asia/Seoul",
        start_time="2026-03-02T08:00:00+09:00",
        end_time="2026-03-02T09:00:00+09:00",
    )
    await dev.ok("schedule.delete", {"id": f"{series['id']}:20260309T130000Z"})
    await dev.ok(
        "schedule.update",
        {
            "id": f"{series['id']}:20260316T130000Z",
            "start_time": "2026-03-17T15:00:00Z",
            "title": "Moved " + "é" * 60,
        },
    )
    feed = await dev.ok("calendar_feed.create")
    assert feed["url"] == f"/v1/calendar/{feed['token']}.ics"
    assert len(feed["token"]) == 43
    response = await client.get(feed["url"])
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/calendar")
    raw = await response.read()
    assert all(len(line) <= 75 for line in raw.split(b"\r\n"))
    assert b"REFRESH-INTERVAL;VALUE=DURATION:PT60M" in raw
    assert b"X-PUBLISHED-TTL:PT60M" in raw
    cal = icalendar.Calendar.from_ical(raw)
    zones = {str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")}
    assert zones == {NY, "Asia/Seoul"}
    events = [e for e in cal.walk("VEVENT") if str(e["UID"]).startswith(series["id"])]
    main = next(e for e in events if "RECURRENCE-ID" not in e)
    assert main["RRULE"]["FREQ"] == ["WEEKLY"]
    assert [d.dt.isoformat() for d in main["EXDATE"].dts] == ["2026-03-09T09:00:00-04:00"]
    moved = next(e for e in events if "RECURRENCE-ID" in e)
    assert moved["RECURRENCE-ID"].dt.isoformat() == "2026-03-16T09:00:00-04:00"
    assert str(moved["SUMMARY"]).startswith("Moved é")


async def test_rotating_and_revoking_a_feed(client, dev):
    feed = await dev.ok("calendar_feed.create")
    rotated = await dev.ok("calendar_feed.rotate", {"id": feed["id"]})
    assert (await client.get(feed["url"])).status == 404
    assert (await client.get(rotated["url"])).status == 200
    listed = await dev.ok("calendar_feed.list")
    assert [f["id"] for f in listed["items"]] == [feed["id"]]
    assert "token" not in listed["items"][0] or listed["items"][0]["token"] is None
    revoked = await dev.ok("calendar_feed.revoke", {"id": feed["id"]})
    assert revoked["revoked_at"] is not None
    assert (await client.get(rotated["url"])).status == 404
    assert (await client.get("/v1/calendar/unknown.ics")).status == 404
    assert (await dev.error("calendar_feed.rotate", {"id": feed["id"]}))[
        "code"
    ] == "validation_error"


async def test_a_replayed_feed_creation_does_not_reveal_the_token(dev):
    from tests.wsclient import new_op

    op = new_op()
    first = await dev.call("calendar_feed.create", None, op_id=op)
    again = await dev.call("calendar_feed.create", None, op_id=op)
    assert first["data"]["token"]
    assert again["replayed"] is True
    assert again["data"]["id"] == first["data"]["id"]
    assert "token" not in again["data"]


async def test_a_cursor_without_a_limit_pages(client, token, dev):
    await weekly(dev, recurrence_rule="FREQ=DAILY")
    query = "start=2026-03-01T00:00:00Z&end=2029-01-01T00:00:00Z"
    first = await (
        await client.get(f"/v1/schedules?{query}&limit=1", headers=bearer(token()))
    ).json()
    rest = await (
        await client.get(
            f"/v1/schedules?{query}&cursor={first['next_cursor']}", headers=bearer(token())
        )
    ).json()
    # A page after the cursor, not the whole window from its start.
    assert len(rest["items"]) == 1000
    assert rest["items"][0]["start_time"] == "2026-03-03T14:00:00.000Z"
    assert rest["next_cursor"] is not None


async def test_a_window_over_the_cap_is_refused_before_anything_streams(start_server, token):
    server = await start_server(schedule_window_max_items=50)
    dev = await Device.connect(server, token())
    await weekly(dev, recurrence_rule="FREQ=DAILY")
    await dev.ok(  # a single schedule counts as an item too
        "schedule.create",
        {"title": "once", "start_time": "2026-03-20T10:00:00Z", "end_time": "2026-03-20T11:00:00Z"},
    )
    fits = "start=2026-03-01T00:00:00Z&end=2026-04-20T00:00:00Z"  # 49 days and the single
    body = await (await server.get(f"/v1/schedules?{fits}", headers=bearer(token()))).json()
    assert len(body["items"]) == 50
    over = "start=2026-03-01T00:00:00Z&end=2026-04-21T00:00:00Z"
    response = await server.get(f"/v1/schedules?{over}", headers=bearer(token()))
    assert response.status == 422
    assert response.headers["Content-Type"].startswith("application/json")
    error = (await response.json())["error"]
    assert error["code"] == "validation_error"
    assert error["details"] == {"field": "end", "limit": 50, "count_at_least": 51}
    assert "limit and cursor" in error["message"]
    # The same window in pages, over REST and the WebSocket, is read whole.
    first = await (
        await server.get(f"/v1/schedules?{over}&limit=40", headers=bearer(token()))
    ).json()
    rest = await (
        await server.get(
            f"/v1/schedules?{over}&cursor={first['next_cursor']}", headers=bearer(token())
        )
    ).json()
    assert len(first["items"]) + len(rest["items"]) == 51
    assert rest["next_cursor"] is None
    listed = await dev.ok(
        "schedule.list", {"start": "2026-03-01T00:00:00Z", "end": "2026-04-21T00:00:00Z"}
    )
    assert listed["items"] == first["items"] + rest["items"]
    await dev.close()


async def test_a_feed_over_its_instants_is_refused(start_server, token):
    server = await start_server(calendar_feed_max_instants=3)
    dev = await Device.connect(server, token())
    series = await weekly(dev)
    await dev.ok("schedule.delete", {"id": f"{series['id']}:20260309T130000Z"})
    feed = await dev.ok("calendar_feed.create")
    assert (await server.get(feed["url"])).status == 200  # the series and one EXDATE
    await weekly(dev, title="second")
    assert (await server.get(feed["url"])).status == 200  # three instants: the limit
    await weekly(dev, title="third")
    response = await server.get(feed["url"])
    assert response.status == 422
    error = (await response.json())["error"]
    assert error["code"] == "validation_error"
    assert error["details"] == {"limit": 3, "count_at_least": 4}
    assert "CALENDAR_FEED_MAX_INSTANTS" in error["message"]
    await dev.close()


async def test_a_client_leaving_a_streamed_window_is_no_error(make_settings, token, caplog):
    # Like `serve`, the server lets the handler run on when its client vanishes.
    client = TestClient(ServedLikeProduction(create_app(make_settings())))
    await client.start_server()
    owner = await Device.connect(client, token())
    await weekly(owner, recurrence_rule="FREQ=HOURLY")
    query = "start=2026-03-01T00:00:00Z&end=2029-01-01T00:00:00Z"  # ~25,000 items, megabytes
    response = await client.get(f"/v1/schedules?{query}", headers=bearer(token()))
    assert response.status == 200
    await response.content.read(1000)
    response.close()  # the client hangs up mid-body
    await asyncio.sleep(1)
    await owner.close()
    await client.close()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
