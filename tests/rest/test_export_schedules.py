"""GET /v1/export/schedules.ics: the feed renderer's calendar, behind the bearer token."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events

from tests.rest.test_rest import bearer
from tests.wsclient import Device

PARIS = ZoneInfo("Europe/Paris")


async def test_the_export_is_the_feed_of_the_callers_schedules(client, token):
    alice = await Device.connect(client, token("alice", name="Alice Martin"))
    bob = await Device.connect(client, token("bob"))
    series = await alice.ok(
        "schedule.create",
        {
            "title": "Sync",
            "start_time": "2026-03-02T09:00:00+01:00",
            "end_time": "2026-03-02T09:30:00+01:00",
            "timezone": "Europe/Paris",
            "recurrence_rule": "FREQ=WEEKLY;COUNT=5",
        },
    )
    await alice.ok(
        "schedule.update",
        {"id": f"{series['id']}:20260309T080000Z", "start_time": "2026-03-10T10:00:00+01:00"},
    )
    theirs = await bob.ok(
        "schedule.create",
        {
            "title": "Bob's",
            "start_time": "2026-03-02T09:00:00Z",
            "end_time": "2026-03-02T10:00:00Z",
            "timezone": "UTC",
        },
    )
    response = await client.get("/v1/export/schedules.ics", headers=bearer(token()))
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert response.headers["Content-Disposition"] == 'attachment; filename="schedules.ics"'
    assert response.headers["Cache-Control"] == "private, no-store"
    body = await response.read()
    calendar = icalendar.Calendar.from_ical(body)
    assert str(calendar["X-WR-CALNAME"]) == "Alice Martin (hipster-timer)"
    assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == ["Europe/Paris"]
    uids = {str(event["UID"]) for event in calendar.walk("VEVENT")}
    assert uids == {f"{series['id']}@hipster-timer"}
    assert theirs["id"].encode() not in body
    starts = [
        e["DTSTART"].dt
        for e in recurring_ical_events.of(calendar).between(date(2026, 3, 1), date(2026, 4, 30))
    ]
    assert sorted(starts) == [
        datetime(2026, 3, d, h, tzinfo=PARIS)
        for d, h in ((2, 9), (10, 10), (16, 9), (23, 9), (30, 9))
    ]
    feed = await alice.ok("calendar_feed.create")
    by_secret = await client.get(f"/v1/calendar/{feed['token']}.ics")
    assert await by_secret.read() == body
    await alice.close()
    await bob.close()


async def test_the_export_needs_a_token_and_takes_no_parameters(client, token):
    response = await client.get("/v1/export/schedules.ics")
    assert response.status == 401
    assert (await response.json())["error"]["code"] == "unauthorized"
    response = await client.get("/v1/export/schedules.ics?year=2026", headers=bearer(token()))
    assert response.status == 422


async def test_a_user_with_no_schedules_gets_an_empty_calendar(client, token):
    response = await client.get("/v1/export/schedules.ics", headers=bearer(token("nobody")))
    calendar = icalendar.Calendar.from_ical(await response.read())
    assert calendar.walk("VEVENT") == []
    assert str(calendar["X-WR-CALNAME"]) == "nobody (hipster-timer)"
