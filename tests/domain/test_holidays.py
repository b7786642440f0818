"""Holidays over the protocol: holiday.list and .countries, a user's calendars, window overlays."""

from __future__ import annotations

import pytest

from schema.holidays import HolidayCountryList, HolidayList
from schema.resources import ScheduleList, User

KR_2025 = {"country": "KR", "year": 2025, "language": "en_US"}


async def test_list_answers_known_days_with_their_flags(device):
    dev = await device("alice")
    listed = await dev.ok("holiday.list", KR_2025)
    HolidayList.model_validate(listed)
    assert {k: v for k, v in listed.items() if k != "items"} == {
        "country": "KR",
        "subdivision": None,
        "language": "en_US",
        "categories": ["public"],
        "start_year": 2025,
        "end_year": 2025,
    }
    by_date = {(d["date"], d["name"]): d for d in listed["items"]}
    assert by_date[("2025-10-06", "Chuseok")] == {
        "date": "2025-10-06",
        "name": "Chuseok",
        "observed": False,
        "estimated": False,
        "category": "public",
    }
    assert by_date[("2025-10-08", "Alternative holiday for Chuseok")]["observed"] is True
    assert [d["date"] for d in listed["items"]] == sorted(d["date"] for d in listed["items"])


async def test_list_takes_ranges_subdivisions_and_categories(device):
    dev = await device("alice")
    listed = await dev.ok(
        "holiday.list",
        {
            "country": "au",
            "subdivision": "nsw",
            "start_year": 2025,
            "end_year": 2026,
            "categories": ["bank", "public"],
        },
    )
    assert (listed["country"], listed["subdivision"], listed["language"]) == ("AU", "NSW", "en_AU")
    assert listed["categories"] == ["bank", "public"]
    assert {d["date"][:4] for d in listed["items"]} == {"2025", "2026"}
    assert ("2025-08-04", "bank") in {(d["date"], d["category"]) for d in listed["items"]}
    korean = await dev.ok("holiday.list", {"country": "KR", "year": 2025})
    assert korean["language"] == "ko"
    assert "추석" in [d["name"] for d in korean["items"]]


@pytest.mark.parametrize(
    ("data", "field", "listed", "member"),
    [
        ({"country": "XX", "year": 2025}, "country", "countries", "KR"),
        ({"country": "US", "subdivision": "ZZ", "year": 2025}, "subdivision", "subdivisions", "CA"),
        ({"country": "KR", "language": "fr", "year": 2025}, "language", "languages", "ko"),
        (
            {"country": "US", "categories": ["nope"], "year": 2025},
            "categories",
            "categories",
            "public",
        ),
        ({"country": "KR", "start_year": 2000, "end_year": 2050}, "end_year", "max_years", None),
        ({"country": "KR", "year": 1900}, "start_year", "min_year", None),
        ({"country": "KR", "year": 2101}, "start_year", "max_year", None),
        ({"country": "KR", "start_year": 2026, "end_year": 2025}, "end_year", "start_year", None),
    ],
)
async def test_list_refuses_what_does_not_exist_and_lists_what_does(
    device, data, field, listed, member
):
    dev = await device("alice")
    error = await dev.error("holiday.list", data)
    assert error["code"] == "validation_error"
    assert error["details"]["field"] == field
    assert listed in error["details"]
    if member is not None:
        assert member in error["details"][listed]


@pytest.mark.parametrize(
    "data",
    [
        {"country": "KR"},
        {"country": "KR", "year": 2025, "start_year": 2025, "end_year": 2025},
        {"country": "KR", "start_year": 2025},
        {"country": "KOR", "year": 2025},
        {"country": "KR", "year": "2025x"},
        {"country": "KR", "year": 0},
        {"country": "KR", "year": 2025, "language": "not a language"},
        {"country": "KR", "year": 2025, "categories": ["x"] * 31},
        {"country": "KR", "year": 2025, "subdivision": "x" * 61},
        {"country": "KR", "year": 2025, "colour": "red"},
        {"year": 2025},
    ],
)
async def test_list_refuses_malformed_queries(device, data):
    dev = await device("alice")
    assert (await dev.error("holiday.list", data))["code"] == "validation_error"


async def test_countries_lists_every_country_with_what_it_accepts(device):
    dev = await device("alice")
    countries = await dev.ok("holiday.countries")
    HolidayCountryList.model_validate(countries)
    by_code = {c["code"]: c for c in countries["items"]}
    assert len(by_code) >= 240
    assert {"code": "NSW", "name": "New South Wales"} in by_code["AU"]["subdivisions"]
    assert by_code["KR"]["languages"] == ["en_US", "ko", "th"]


# --- a user's holiday calendars ---------------------------------------------------------------


async def test_user_sets_holiday_calendars_canonically_and_devices_hear_it(device):
    phone = await device("alice")
    laptop = await device("alice")
    assert (await phone.ok("user.me"))["holiday_calendars"] == []
    updated = await phone.ok(
        "user.update",
        {
            "holiday_calendars": [
                {"country": "kr"},
                {"country": "de", "subdivision": "bayern", "language": "en-us"},
            ]
        },
    )
    User.model_validate(updated)
    assert updated["holiday_calendars"] == [
        {"country": "KR", "subdivision": None, "language": None},
        {"country": "DE", "subdivision": "BY", "language": "en_US"},
    ]
    assert updated["version"] == 2
    event = (await laptop.wait_events(1))[0]
    assert (event["name"], event["data"]) == ("user.updated", updated)
    assert (await laptop.ok("user.me"))["holiday_calendars"] == updated["holiday_calendars"]
    cleared = await phone.ok("user.update", {"holiday_calendars": []})
    assert cleared["holiday_calendars"] == []


@pytest.mark.parametrize(
    ("calendars", "field"),
    [
        ([{"country": "XX"}], "holiday_calendars.0.country"),
        (
            [{"country": "KR"}, {"country": "US", "subdivision": "ZZ"}],
            "holiday_calendars.1.subdivision",
        ),
        ([{"country": "KR", "language": "fr"}], "holiday_calendars.0.language"),
        (
            [{"country": "DE", "subdivision": "BY"}, {"country": "DE", "subdivision": "Bayern"}],
            "holiday_calendars.1",
        ),
    ],
)
async def test_unknown_calendars_are_refused_and_change_nothing(device, calendars, field):
    dev = await device("alice")
    error = await dev.error("user.update", {"holiday_calendars": calendars})
    assert (error["code"], error["details"]["field"]) == ("validation_error", field)
    me = await dev.ok("user.me")
    assert (me["version"], me["holiday_calendars"]) == (1, [])
    assert dev.events == []


@pytest.mark.parametrize(
    "calendars",
    [
        None,
        [{"country": "KR"}] * 2,
        [{"country": c} for c in ("KR", "US", "DE", "FR", "JP", "GB")],
        [{"country": "KR", "categories": ["bank"]}],
        [{"subdivision": "CA"}],
        "KR",
    ],
)
async def test_malformed_calendars_are_refused(device, calendars):
    dev = await device("alice")
    error = await dev.error("user.update", {"holiday_calendars": calendars})
    assert error["code"] == "validation_error"
    assert (await dev.ok("user.me"))["version"] == 1


# --- overlays on schedule windows -------------------------------------------------------------


async def set_calendars(dev, *calendars, timezone="UTC"):
    await dev.ok("user.update", {"holiday_calendars": list(calendars), "timezone": timezone})


async def test_a_window_overlays_the_users_holidays_beside_its_items(device):
    dev = await device("alice")
    await set_calendars(
        dev, {"country": "US", "language": "en_US"}, {"country": "KR", "language": "en_US"}
    )
    schedule = await dev.ok(
        "schedule.create",
        {
            "title": "Review",
            "start_time": "2025-12-30T10:00:00Z",
            "end_time": "2025-12-30T11:00:00Z",
        },
    )
    window = {"start": "2025-12-20T00:00:00Z", "end": "2026-01-05T00:00:00Z"}
    plain = await dev.ok("schedule.list", window)
    assert "holidays" not in plain
    page = await dev.ok("schedule.list", {**window, "include_holidays": True})
    ScheduleList.model_validate(page)
    assert page["items"] == plain["items"]
    assert [i["id"] for i in page["items"]] == [schedule["id"]]
    assert [(h["date"], h["country"], h["name"]) for h in page["holidays"]] == [
        ("2025-12-25", "US", "Christmas Day"),
        ("2025-12-25", "KR", "Christmas Day"),
        ("2026-01-01", "US", "New Year's Day"),
        ("2026-01-01", "KR", "New Year's Day"),
    ]
    assert all(h["subdivision"] is None and h["observed"] is False for h in page["holidays"])


async def test_the_overlay_crosses_the_year_with_observed_days(device):
    dev = await device("alice")
    await set_calendars(dev, {"country": "US", "language": "en_US"})
    page = await dev.ok(
        "schedule.list",
        {"start": "2021-12-24T00:00:00Z", "end": "2022-01-02T00:00:00Z", "include_holidays": True},
    )
    assert [(h["date"], h["observed"]) for h in page["holidays"]] == [
        ("2021-12-24", True),
        ("2021-12-25", False),
        ("2021-12-31", True),
        ("2022-01-01", False),
    ]


async def test_the_overlay_takes_its_days_in_the_windows_zone_else_the_users(device):
    dev = await device("alice")
    await set_calendars(dev, {"country": "KR", "language": "en_US"}, timezone="Asia/Seoul")
    # 2025-10-05T15:00Z is midnight of 6 October in Seoul: Chuseok, not the day before.
    window = {
        "start": "2025-10-05T15:00:00Z",
        "end": "2025-10-06T15:00:00Z",
        "include_holidays": True,
    }
    seoul = await dev.ok("schedule.list", window)
    assert [h["date"] for h in seoul["holidays"]] == ["2025-10-06"]
    utc = await dev.ok("schedule.list", {**window, "tz": "UTC"})
    assert [h["date"] for h in utc["holidays"]] == ["2025-10-05", "2025-10-06"]


async def test_no_calendars_no_holidays_and_a_friends_window_uses_mine(device):
    alice = await device("alice")
    bob = await device("bob")
    window = {
        "start": "2025-12-24T00:00:00Z",
        "end": "2025-12-27T00:00:00Z",
        "include_holidays": True,
    }
    assert (await alice.ok("schedule.list", window))["holidays"] == []
    await set_calendars(bob, {"country": "DE", "subdivision": "BE"})
    assert (await alice.ok("schedule.list", window))["holidays"] == []
    assert [h["date"] for h in (await bob.ok("schedule.list", window))["holidays"]] == [
        "2025-12-25",
        "2025-12-26",
    ]


async def test_windows_at_the_ends_of_time_overlay_nothing(device):
    dev = await device("alice")
    await set_calendars(dev, {"country": "US"}, timezone="Pacific/Kiritimati")
    for start, end in (
        ("0001-01-01T00:00:00Z", "0001-01-03T00:00:00Z"),
        ("9999-12-30T00:00:00Z", "9999-12-31T23:59:59Z"),
    ):
        page = await dev.ok("schedule.list", {"start": start, "end": end, "include_holidays": True})
        assert page["holidays"] == []
