"""The holiday feed renderer alone, read back by two independent parsers."""

from __future__ import annotations

from datetime import UTC, date, datetime

import icalendar
import pytest
from ical.calendar_stream import IcsCalendarStream

from server.domain.holidays.engine import Holiday, HolidayEngine
from server.domain.holidays.ical import render_holiday_feed


@pytest.fixture(scope="module")
def engine() -> HolidayEngine:
    return HolidayEngine()


def render(engine, country, start, end, subdivision=None, language=None, categories=None):
    spec = engine.resolve(country, subdivision, language, categories)
    return render_holiday_feed(spec, engine.title(spec), engine.days(spec, start, end))


def test_icalendar_reads_all_day_events_with_stable_uids(engine):
    body = render(engine, "KR", 2025, 2025, language="en_US")
    cal = icalendar.Calendar.from_ical(body)
    assert str(cal["X-WR-CALNAME"]) == "South Korea holidays"
    assert not cal.walk("VTIMEZONE")
    events = cal.walk("VEVENT")
    days = engine.days(engine.resolve("KR", language="en_US"), 2025, 2025)
    assert len(events) == len(days)
    for event, day in zip(events, days, strict=True):
        start, end = event.decoded("DTSTART"), event.decoded("DTEND")
        assert type(start) is date
        assert (start, (end - start).days) == (day.date, 1)
        assert str(event["SUMMARY"]) == day.name
        assert event.decoded("DTSTAMP") == datetime(2025, 1, 1, tzinfo=UTC)
        assert str(event["TRANSP"]) == "TRANSPARENT"
    assert len({str(e["UID"]) for e in events}) == len(events)
    chuseok_alt = next(e for e in events if e.decoded("DTSTART") == date(2025, 10, 8))
    assert [str(c) for c in chuseok_alt["CATEGORIES"].cats] == ["public", "observed"]


def test_ical_package_reads_the_same_events(engine):
    body = render(engine, "US", 2021, 2022, language="en_US")
    parsed = IcsCalendarStream.calendar_from_ics(body.decode())
    expected = engine.days(engine.resolve("US", language="en_US"), 2021, 2022)
    assert [(e.dtstart, e.dtend, e.summary) for e in parsed.events] == [
        (d.date, date.fromordinal(d.date.toordinal() + 1), d.name) for d in expected
    ]
    assert (date(2021, 12, 31), "New Year's Day (observed)") in [
        (e.dtstart, e.summary) for e in parsed.events
    ]


def test_the_same_days_render_the_same_bytes_and_uids_survive_other_ranges(engine):
    once = render(engine, "DE", 2025, 2026, subdivision="BY")
    assert once == render(engine, "DE", 2025, 2026, subdivision="BY")
    wider = render(engine, "DE", 2024, 2027, subdivision="BY")
    uids = {str(e["UID"]) for e in icalendar.Calendar.from_ical(once).walk("VEVENT")}
    wider_uids = {str(e["UID"]) for e in icalendar.Calendar.from_ical(wider).walk("VEVENT")}
    assert uids < wider_uids
    other = render(engine, "DE", 2025, 2026, subdivision="BE")
    other_uids = {str(e["UID"]) for e in icalendar.Calendar.from_ical(other).walk("VEVENT")}
    assert not uids & other_uids


def test_lines_end_with_crlf_and_fold_at_75_octets(engine):
    body = render(engine, "DE", 2025, 2025, subdivision="BE", language="en_US")
    lines = body.split(b"\r\n")
    assert lines[-1] == b""
    assert b"\n" not in body.replace(b"\r\n", b"")
    assert max(len(line) for line in lines) <= 75
    assert any(line.startswith(b" ") for line in lines)
    events = IcsCalendarStream.calendar_from_ics(body.decode()).events
    (long_name,) = [e.summary for e in events if e.dtstart == date(2025, 5, 8)]
    assert len(long_name.encode()) > 75
    assert long_name.startswith("80th anniversary of the liberation")


def test_non_latin_names_and_estimated_days_survive_both_parsers(engine):
    body = render(engine, "EG", 2070, 2070, language="ar_EG")
    cal = icalendar.Calendar.from_ical(body)
    parsed = IcsCalendarStream.calendar_from_ics(body.decode())
    days = engine.days(engine.resolve("EG", language="ar_EG"), 2070, 2070)
    assert [str(e["SUMMARY"]) for e in cal.walk("VEVENT")] == [d.name for d in days]
    assert [e.summary for e in parsed.events] == [d.name for d in days]
    flagged = [e.categories for e in parsed.events if "estimated" in e.categories]
    assert len(flagged) == sum(d.estimated for d in days) > 0


@pytest.mark.parametrize(
    "name",
    [
        "Fête; du 1er mai, \\ de tous",
        "추석 대체 휴일 " * 12,
        "e\u0301" * 80,
        "Two\nlines",
        "x" * 74,
        "x" * 75,
        "x" * 76,
        "😀" * 40,
    ],
)
def test_escaped_and_folded_names_read_back_intact_by_both_parsers(engine, name):
    spec = engine.resolve("KR")
    day = Holiday(date(2025, 10, 6), name, observed=True, estimated=False, category="public")
    body = render_holiday_feed(spec, "United States (Virgin Islands, U.S.) holidays", [day])
    assert all(len(line) <= 75 for line in body.split(b"\r\n"))
    body.decode()  # folding never splits a character
    event = icalendar.Calendar.from_ical(body).walk("VEVENT")[0]
    assert str(event["SUMMARY"]) == name
    title = str(icalendar.Calendar.from_ical(body)["X-WR-CALNAME"])
    assert title == "United States (Virgin Islands, U.S.) holidays"
    parsed = IcsCalendarStream.calendar_from_ics(body.decode()).events[0]
    assert (parsed.summary, parsed.categories) == (name, ["public", "observed"])
