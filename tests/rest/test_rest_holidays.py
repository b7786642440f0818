"""Holidays over REST: public JSON reads, the iCalendar feed with its ETag, and window overlays."""

from __future__ import annotations

from datetime import UTC, date, datetime
from urllib.parse import quote

import icalendar
import pytest
from ical.calendar_stream import IcsCalendarStream

from tests.rest.test_rest import bearer
from tests.wsclient import Device


async def test_holidays_answer_items_without_a_token(client):
    response = await client.get("/v1/holidays?country=KR&year=2025&language=en_US")
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Cache-Control"] == "public, max-age=86400"
    body = await response.json()
    assert (body["country"], body["start_year"], body["end_year"]) == ("KR", 2025, 2025)
    assert {
        "date": "2025-10-08",
        "name": "Alternative holiday for Chuseok",
        "observed": True,
        "estimated": False,
        "category": "public",
    } in body["items"]


async def test_holidays_take_ranges_subdivisions_and_comma_separated_categories(client):
    response = await client.get(
        "/v1/holidays?country=AU&subdivision=VIC&start_year=2025&end_year=2026&categories=public,bank"
    )
    body = await response.json()
    assert response.status == 200
    assert (body["subdivision"], body["categories"]) == ("VIC", ["bank", "public"])
    assert ("2025-11-04", "public") in {(d["date"], d["category"]) for d in body["items"]}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("country=XX&year=2025", "country"),
        ("country=US&subdivision=ZZ&year=2025", "subdivision"),
        ("country=US&language=ko&year=2025", "language"),
        ("country=US&categories=public,nope&year=2025", "categories"),
        ("country=KR&start_year=1990&end_year=2040", "end_year"),
        ("country=KR&year=1800", "start_year"),
    ],
)
async def test_bad_holiday_queries_are_422_listing_what_exists(client, query, field):
    response = await client.get(f"/v1/holidays?{query}")
    assert response.status == 422
    error = (await response.json())["error"]
    assert (error["code"], error["details"]["field"]) == ("validation_error", field)
    assert "Cache-Control" not in response.headers


@pytest.mark.parametrize(
    "query", ["", "country=KR", "country=KR&year=x", "country=KR&year=2025&x=1", "year=2025"]
)
async def test_malformed_holiday_queries_are_422(client, query):
    response = await client.get(f"/v1/holidays?{query}")
    assert response.status == 422
    assert (await response.json())["error"]["code"] == "validation_error"


async def test_countries_are_public_and_cacheable(client):
    response = await client.get("/v1/holidays/countries")
    assert response.status == 200
    items = (await response.json())["items"]
    assert "KR" in {c["code"] for c in items}
    again = await client.get(
        "/v1/holidays/countries", headers={"If-None-Match": response.headers["ETag"]}
    )
    assert again.status == 304
    assert (await client.get("/v1/holidays/countries?x=1")).status == 422


# --- the iCalendar feed -------------------------------------------------------------------------


async def test_feed_is_a_calendar_both_parsers_read(client):
    response = await client.get("/v1/holidays/KR.ics?year=2025&language=en_US")
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert response.headers["Cache-Control"] == "public, max-age=86400"
    body = await response.read()
    cal = icalendar.Calendar.from_ical(body)
    assert str(cal["X-WR-CALNAME"]) == "South Korea holidays"
    events = {(e.decoded("DTSTART"), str(e["SUMMARY"])) for e in cal.walk("VEVENT")}
    assert (date(2025, 10, 8), "Alternative holiday for Chuseok") in events
    parsed = IcsCalendarStream.calendar_from_ics(body.decode())
    assert {(e.dtstart, e.summary) for e in parsed.events} == events
    assert all(e.dtend == date.fromordinal(e.dtstart.toordinal() + 1) for e in parsed.events)


async def test_feed_of_a_subdivision_with_a_range(client):
    response = await client.get("/v1/holidays/de-by.ics?start_year=2025&end_year=2026")
    assert response.status == 200
    cal = icalendar.Calendar.from_ical(await response.read())
    assert str(cal["X-WR-CALNAME"]) == "Germany (Bayern) holidays"
    dates = {e.decoded("DTSTART") for e in cal.walk("VEVENT")}
    assert {date(2025, 1, 6), date(2026, 11, 1)} <= dates
    spaced = await client.get(f"/v1/holidays/{quote('AU-NSW Western')}.ics?year=2025")
    assert spaced.status == 200


async def test_feed_etag_is_stable_and_answers_304(client):
    path = "/v1/holidays/US.ics?start_year=2021&end_year=2022"
    first = await client.get(path)
    second = await client.get(path)
    tag = first.headers["ETag"]
    assert tag == second.headers["ETag"]
    assert tag.startswith('"')
    assert not tag.startswith("W/")
    assert await first.read() == await second.read()
    for header in (tag, f"W/{tag}", f'"other", {tag}', "*"):
        cached = await client.get(path, headers={"If-None-Match": header})
        assert cached.status == 304, header
        assert cached.headers["ETag"] == tag
        assert await cached.read() == b""
    stale = await client.get(path, headers={"If-None-Match": '"other"'})
    assert stale.status == 200
    other_range = await client.get("/v1/holidays/US.ics?start_year=2021&end_year=2023")
    assert other_range.headers["ETag"] != tag


async def test_feed_without_years_spans_last_year_to_two_ahead(client):
    response = await client.get("/v1/holidays/US.ics")
    cal = icalendar.Calendar.from_ical(await response.read())
    years = {e.decoded("DTSTART").year for e in cal.walk("VEVENT")}
    this_year = datetime.now(UTC).year
    assert years == set(range(this_year - 1, this_year + 3))


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/v1/holidays/XX.ics", "country"),
        ("/v1/holidays/KR-11.ics", "subdivision"),
        ("/v1/holidays/US-.ics", "subdivision"),
        ("/v1/holidays/US.ics?language=xx", "language"),
        ("/v1/holidays/US.ics?categories=nope", "categories"),
        ("/v1/holidays/US.ics?start_year=2000&end_year=2060", "end_year"),
        ("/v1/holidays/KR.ics?year=1900", "start_year"),
        (f"/v1/holidays/US-{'x' * 100}.ics", "calendar"),
    ],
)
async def test_bad_feeds_are_422(client, path, field):
    response = await client.get(path)
    assert response.status == 422
    error = (await response.json())["error"]
    assert (error["code"], error["details"]["field"]) == ("validation_error", field)


# --- overlays on REST windows --------------------------------------------------------------------


@pytest.fixture
async def dev(client, token):
    device = await Device.connect(client, token())
    await device.ok("user.update", {"holiday_calendars": [{"country": "US", "language": "en_US"}]})
    yield device
    await device.close()


WINDOW = "start=2021-12-24T00:00:00Z&end=2022-01-02T00:00:00Z"
EXPECTED = [
    ("2021-12-24", True),
    ("2021-12-25", False),
    ("2021-12-31", True),
    ("2022-01-01", False),
]


async def test_streamed_and_paged_windows_carry_the_overlay(client, token, dev):
    await dev.ok(
        "schedule.create",
        {"title": "Ski", "start_time": "2021-12-27T08:00:00Z", "end_time": "2021-12-27T16:00:00Z"},
    )
    for query in (WINDOW, f"{WINDOW}&limit=10"):
        with_flag = await client.get(
            f"/v1/schedules?{query}&include_holidays=true", headers=bearer(token())
        )
        body = await with_flag.json()
        assert [h["date"] for h in body["holidays"]] == [d for d, _ in EXPECTED], query
        assert [(h["date"], h["observed"]) for h in body["holidays"]] == EXPECTED
        assert [i["title"] for i in body["items"]] == ["Ski"]
        plain = await (await client.get(f"/v1/schedules?{query}", headers=bearer(token()))).json()
        assert "holidays" not in plain
        assert plain["items"] == body["items"]


async def test_bootstrap_carries_the_overlay_of_its_window(client, token, dev):
    query = "schedules_start=2021-12-24T00:00:00Z&schedules_end=2022-01-02T00:00:00Z"
    body = await (
        await client.get(f"/v1/bootstrap?{query}&include_holidays=true", headers=bearer(token()))
    ).json()
    assert [(h["date"], h["observed"]) for h in body["holidays"]] == EXPECTED
    assert body["user"]["holiday_calendars"] == [
        {"country": "US", "subdivision": None, "language": "en_US"}
    ]
    plain = await (await client.get(f"/v1/bootstrap?{query}", headers=bearer(token()))).json()
    assert "holidays" not in plain
    alone = await client.get("/v1/bootstrap?include_holidays=true", headers=bearer(token()))
    assert alone.status == 422
    assert (await alone.json())["error"]["code"] == "validation_error"
