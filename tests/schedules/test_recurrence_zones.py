"""Zones, daylight saving, UNTIL forms, refusals, seeking and splitting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from dateutil import rrule as du
from hypothesis import given, settings
from hypothesis import strategies as st

from server.domain.schedules.recurrence import (
    MAX_COUNT,
    RecurrenceError,
    Series,
    instance_id,
    is_occurrence,
    normalize_rule,
    occurrences,
    parse_instance_id,
    split_rule,
)

FAR = 4_102_444_800_000  # 2100-01-01


def ms(text: str, zone: str = "UTC") -> int:
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(zone))
    return int(parsed.timestamp() * 1000)


def utc(instant: int) -> str:
    return datetime.fromtimestamp(instant / 1000, UTC).strftime("%Y-%m-%dT%H:%M")


def series(start: str, zone: str, rule: str, minutes: int = 30) -> Series:
    begin = ms(start, zone)
    return Series(begin, minutes * 60_000, zone, normalize_rule(rule, begin, zone))


def window(s: Series, start: str, end: str) -> list[str]:
    return [utc(o) for o in occurrences(s, ms(start), ms(end))]


# --------------------------------------------------------------------------- DST gaps and folds

GAP_AND_FOLD = [
    # zone, daily wall time, the gap day, the fold day, the fold's first instant (UTC)
    ("America/New_York", "02:30", "2026-03-08", "2026-11-01", None),
    ("America/New_York", "01:30", None, "2026-11-01", "2026-11-01T05:30"),
    ("Europe/Berlin", "02:30", "2026-03-29", "2026-10-25", "2026-10-25T00:30"),
    ("Australia/Lord_Howe", "02:15", "2026-10-04", None, None),
    ("Australia/Lord_Howe", "01:45", None, "2026-04-05", "2026-04-04T14:45"),
    ("Australia/Sydney", "02:30", "2026-10-04", "2026-04-05", "2026-04-04T15:30"),
    ("America/Santiago", "00:30", "2026-09-06", None, None),
]


@pytest.mark.parametrize(("zone", "clock", "gap", "fold", "first"), GAP_AND_FOLD)
def test_a_daily_series_skips_the_gap_and_takes_the_first_of_a_fold(zone, clock, gap, fold, first):
    s = series(f"2026-01-01T{clock}", zone, "FREQ=DAILY")
    starts = list(occurrences(s, ms("2026-01-01T00:00:00Z"), ms("2027-01-01T00:00:00Z")))
    local_days = [
        datetime.fromtimestamp(o / 1000, ZoneInfo(zone)).date().isoformat() for o in starts
    ]
    assert len(local_days) == len(set(local_days))
    if gap is not None:
        assert gap not in local_days
        assert len(starts) == 364
    else:
        assert len(starts) == 365
    for o in starts:
        assert datetime.fromtimestamp(o / 1000, ZoneInfo(zone)).strftime("%H:%M") == clock
    if first is not None:
        on_fold = [
            utc(o)
            for o in starts
            if datetime.fromtimestamp(o / 1000, ZoneInfo(zone)).date().isoformat() == fold
        ]
        assert on_fold == [first]


def test_count_does_not_count_the_skipped_gap_time():
    s = series("2026-03-07T02:30", "America/New_York", "FREQ=DAILY;COUNT=3")
    assert [utc(o) for o in occurrences(s, 0, FAR)] == [
        "2026-03-07T07:30",
        "2026-03-09T06:30",
        "2026-03-10T06:30",
    ]


def test_lord_howe_half_hour_shift_keeps_the_wall_clock():
    s = series("2026-09-28T09:00", "Australia/Lord_Howe", "FREQ=WEEKLY;BYDAY=MO")
    assert window(s, "2026-09-27T00:00:00Z", "2026-10-13T00:00:00Z") == [
        "2026-09-27T22:30",
        "2026-10-04T22:00",
        "2026-10-11T22:00",
    ]


def test_weekly_monday_morning_in_seoul_stays_on_mondays_all_year():
    s = series("2026-01-05T08:00", "Asia/Seoul", "FREQ=WEEKLY;BYDAY=MO", minutes=60)
    starts = list(occurrences(s, ms("2026-01-01T00:00:00Z"), ms("2027-01-01T00:00:00Z")))
    assert len(starts) == 52
    for o in starts:
        local = datetime.fromtimestamp(o / 1000, ZoneInfo("Asia/Seoul"))
        assert (local.strftime("%a %H:%M")) == "Mon 08:00"
        assert datetime.fromtimestamp(o / 1000, UTC).strftime("%a %H:%M") == "Sun 23:00"


def test_a_weekly_meeting_holds_its_new_york_time_across_both_changes():
    s = series("2026-03-02T09:00", "America/New_York", "FREQ=WEEKLY;BYDAY=MO")
    got = window(s, "2026-03-01T00:00:00Z", "2026-03-17T00:00:00Z")
    assert got == ["2026-03-02T14:00", "2026-03-09T13:00", "2026-03-16T13:00"]
    autumn = window(s, "2026-10-26T00:00:00Z", "2026-11-10T00:00:00Z")
    assert autumn == ["2026-10-26T13:00", "2026-11-02T14:00", "2026-11-09T14:00"]


def test_month_day_31_only_in_long_months():
    s = series("2026-01-31T10:00", "Europe/Berlin", "FREQ=MONTHLY")
    got = [u[:7] for u in window(s, "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z")]
    assert got == ["2026-01", "2026-03", "2026-05", "2026-07", "2026-08", "2026-10", "2026-12"]
    last = series("2026-01-31T10:00", "Europe/Berlin", "FREQ=MONTHLY;BYMONTHDAY=-1")
    assert len(window(last, "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z")) == 12


# --------------------------------------------------------------------------- UNTIL and refusals


@pytest.mark.parametrize(
    ("until", "normalised"),
    [
        ("20260310T090000Z", "20260310T090000Z"),
        ("20260310T090000", "20260310T130000Z"),
        ("20260310", "20260311T035959Z"),
    ],
)
def test_until_forms_are_normalised_to_utc(until, normalised):
    start = ms("2026-03-02T09:00", "America/New_York")
    assert (
        normalize_rule(f"FREQ=DAILY;UNTIL={until}", start, "America/New_York")
        == f"FREQ=DAILY;UNTIL={normalised}"
    )


def test_rules_are_written_canonically():
    start = ms("2026-03-02T09:00", "UTC")
    assert (
        normalize_rule("rrule:byday=mo,we;freq=weekly;interval=2", start, "UTC")
        == "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE"
    )


@pytest.mark.parametrize(
    "rule",
    [
        "",
        "RRULE:",
        "BYDAY=MO",
        "FREQ=SECONDLY",
        "FREQ=FORTNIGHTLY",
        "FREQ=DAILY;COUNT=0",
        "FREQ=DAILY;COUNT=-1",
        f"FREQ=DAILY;COUNT={MAX_COUNT + 1}",
        "FREQ=DAILY;COUNT=2;UNTIL=20270101T000000Z",
        "FREQ=DAILY;INTERVAL=0",
        "FREQ=DAILY;BYHOUR=24",
        "FREQ=MONTHLY;BYMONTHDAY=32",
        "FREQ=MONTHLY;BYMONTHDAY=0",
        "FREQ=YEARLY;BYMONTH=13",
        "FREQ=WEEKLY;BYDAY=XX",
        "FREQ=MONTHLY;BYDAY=54MO",
        "FREQ=WEEKLY;WKST=XX",
        "FREQ=DAILY;UNTIL=tomorrow",
        "FREQ=DAILY;FREQ=WEEKLY",
        "FREQ=DAILY;X-NAME=1",
        "FREQ=DAILY;BYHOUR",
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
    ],
)
def test_invalid_rules_are_refused(rule):
    with pytest.raises(RecurrenceError):
        normalize_rule(rule, 0, "UTC")


# --------------------------------------------------------------------------- ids and splits


def test_instance_ids_round_trip():
    ident = instance_id("252eab84-1018-4b3f-866e-8b3ade0989bc", ms("2026-01-05T09:00:00Z"))
    assert ident == "252eab84-1018-4b3f-866e-8b3ade0989bc:20260105T090000Z"
    assert parse_instance_id(ident) == (
        "252eab84-1018-4b3f-866e-8b3ade0989bc",
        ms("2026-01-05T09:00:00Z"),
    )
    assert parse_instance_id("252eab84-1018-4b3f-866e-8b3ade0989bc") is None


@pytest.mark.parametrize(
    "rule", ["FREQ=DAILY;COUNT=10", "FREQ=DAILY", "FREQ=WEEKLY;BYDAY=MO,TH;UNTIL=20260401T000000Z"]
)
def test_a_split_keeps_every_occurrence_once(rule):
    s = series("2026-03-02T09:00", "America/New_York", rule)
    everything = list(occurrences(s, s.start_ms, ms("2026-05-01T00:00:00Z")))
    cut = everything[4]
    head, tail = split_rule(s, cut)
    first = Series(s.start_ms, s.duration_ms, s.zone, head)
    rest = Series(cut, s.duration_ms, s.zone, tail)
    joined = list(occurrences(first, s.start_ms, ms("2026-05-01T00:00:00Z")))
    joined += list(occurrences(rest, cut, ms("2026-05-01T00:00:00Z")))
    assert joined == everything
    assert is_occurrence(s, cut)
    assert not is_occurrence(s, cut + 60_000)


# --------------------------------------------------------------------------- seeking


def wall_to_instant(wall: datetime, zone: ZoneInfo) -> int | None:
    """Return a wall-clock time's instant; None in a DST gap (the round trip fails)."""
    aware = wall.replace(tzinfo=zone)
    if aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != wall:
        return None
    return int(aware.timestamp() * 1000)


def brute_force(s: Series, lo: int, hi: int) -> list[int]:
    """Iterate the rule from DTSTART, converting every wall-clock time; the slow reference."""
    zone = ZoneInfo(s.zone)
    local_start = datetime.fromtimestamp(s.start_ms / 1000, zone).replace(tzinfo=None)
    parts = dict(p.split("=", 1) for p in (s.rule or "").split(";"))
    until = None
    if "UNTIL" in parts:
        until = ms(
            datetime.strptime(parts.pop("UNTIL"), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).isoformat()
        )
    text = "RRULE:" + ";".join(f"{k}={v}" for k, v in parts.items())
    rule = du.rrulestr(text, dtstart=local_start, cache=False)
    out = (
        [s.start_ms] if s.start_ms - s.duration_ms < hi and s.start_ms + s.duration_ms > lo else []
    )
    for wall in rule.xafter(local_start, inc=False):
        instant = wall_to_instant(wall, zone)
        if instant is None or instant <= s.start_ms:
            continue
        if instant >= hi or (until is not None and instant > until):
            break
        if instant + s.duration_ms > lo:
            out.append(instant)
    return [o for o in out if o < hi and o + s.duration_ms > lo]


ZONES = [
    "UTC",
    "America/New_York",
    "Europe/Berlin",
    "Australia/Lord_Howe",
    "Asia/Seoul",
    "America/Santiago",
]
DAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]


@st.composite
def rules(draw: st.DrawFn) -> str:
    freq = draw(st.sampled_from(["DAILY", "WEEKLY", "MONTHLY", "YEARLY", "HOURLY"]))
    parts = [f"FREQ={freq}"]
    if draw(st.booleans()):
        parts.append(f"INTERVAL={draw(st.integers(1, 5 if freq != 'HOURLY' else 30))}")
    if freq in ("WEEKLY", "MONTHLY", "YEARLY") and draw(st.booleans()):
        picked = draw(st.lists(st.sampled_from(DAYS), min_size=1, max_size=3, unique=True))
        if freq != "WEEKLY" and draw(st.booleans()):
            picked = [f"{draw(st.sampled_from([1, 2, -1]))}{picked[0]}"]
        parts.append("BYDAY=" + ",".join(picked))
    elif freq in ("MONTHLY", "YEARLY") and draw(st.booleans()):
        parts.append(f"BYMONTHDAY={draw(st.sampled_from([1, 15, 28, 30, 31, -1]))}")
    if freq == "YEARLY" and draw(st.booleans()):
        parts.append(f"BYMONTH={draw(st.integers(1, 12))}")
    if (
        freq == "MONTHLY"
        and "BYDAY" in ";".join(parts)
        and "," in parts[-1]
        and draw(st.booleans())
    ):
        parts.append(f"BYSETPOS={draw(st.sampled_from([1, -1, 2]))}")
    if freq == "WEEKLY" and draw(st.booleans()):
        parts.append(f"WKST={draw(st.sampled_from(DAYS))}")
    if draw(st.booleans()):
        parts.append(f"UNTIL={draw(st.integers(2026, 2030))}0601T000000Z")
    return ";".join(parts)


@settings(max_examples=150, deadline=None)
@given(
    rule=rules(),
    zone=st.sampled_from(ZONES),
    year=st.integers(1990, 2025),
    day=st.integers(0, 364),
    minute=st.integers(0, 24 * 4 - 1),
    offset_days=st.integers(0, 400),
)
def test_seeking_to_the_window_equals_iterating_from_dtstart(
    rule, zone, year, day, minute, offset_days
):
    if rule.startswith("FREQ=HOURLY"):
        year = max(year, 2025)  # the reference walks every hour from DTSTART
    local = datetime(year, 1, 1) + timedelta(days=day, minutes=minute * 15)
    start = int(local.replace(tzinfo=ZoneInfo(zone)).timestamp() * 1000)
    try:
        s = Series(start, 45 * 60_000, zone, normalize_rule(rule, start, zone))
    except RecurrenceError:
        return
    lo = ms("2026-01-01T00:00:00Z") + offset_days * 86_400_000
    hi = lo + 9 * 86_400_000
    assert list(occurrences(s, lo, hi)) == brute_force(s, lo, hi)
