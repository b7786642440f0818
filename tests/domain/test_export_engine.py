"""The export engine alone: zone text, run segments, timesheet rows (no I/O)."""

from __future__ import annotations

import csv
import io
import random
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import orjson
import pytest

from schema.exports import ExportedTimer
from server.clock import iso_ms, to_ms
from server.domain.exports.localtime import LocalClock, duration_text
from server.domain.exports.segments import Segment, parse_history, split_runs
from server.domain.exports.timesheet import COLUMNS, FIELDS, Timesheet
from server.domain.timers.logic import (
    HISTORY_MAX,
    finish,
    history_entry,
    new_timer_values,
    pause,
    resume,
)


def ms(text: str) -> int:
    return to_ms(datetime.fromisoformat(text))


# --- local time -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("instant", "day", "clock", "iso"),
    [
        ("2026-03-29T00:59:59.999Z", "2026-03-29", "01:59:59", "2026-03-29T01:59:59.999+01:00"),
        ("2026-03-29T01:00:00Z", "2026-03-29", "03:00:00", "2026-03-29T03:00:00.000+02:00"),
        ("2026-10-25T00:30:00Z", "2026-10-25", "02:30:00", "2026-10-25T02:30:00.000+02:00"),
        ("2026-10-25T01:30:00Z", "2026-10-25", "02:30:00", "2026-10-25T02:30:00.000+01:00"),
        ("2026-12-31T23:30:00Z", "2027-01-01", "00:30:00", "2027-01-01T00:30:00.000+01:00"),
    ],
)
def test_paris_across_both_transitions_and_new_year(instant, day, clock, iso):
    paris = LocalClock("Europe/Paris")
    assert paris.date_time(ms(instant)) == (day, clock)
    assert paris.iso(ms(instant)) == iso


@pytest.mark.parametrize(
    "zone",
    [
        "Europe/Paris",
        "America/New_York",
        "Australia/Lord_Howe",
        "Asia/Kathmandu",
        "America/Santiago",
        "Pacific/Chatham",
        "UTC",
    ],
)
def test_every_instant_matches_zoneinfo(zone):
    # Every 7 minutes and some milliseconds of 2026: Lord Howe's half-hour jump
    # at 15:30 UTC and Chatham's at 14:00 are hit, not just hourly ones.
    clock = LocalClock(zone)
    rng = random.Random(zone)
    instant, end = ms("2026-01-01T00:00:00Z"), ms("2027-01-01T00:00:00Z")
    while instant < end:
        expected = datetime.fromtimestamp(instant // 1000, UTC).astimezone(ZoneInfo(zone))
        text = clock.iso(instant)
        assert text[:19] == expected.isoformat()[:19], instant
        assert datetime.fromisoformat(text).utcoffset() == expected.utcoffset(), instant
        assert to_ms(datetime.fromisoformat(text)) == instant
        instant += 7 * 60_000 + rng.randrange(1000)


def test_utc_is_written_with_z():
    assert LocalClock("UTC").iso(ms("2026-01-02T03:04:05.006Z")) == "2026-01-02T03:04:05.006Z"
    assert LocalClock("Europe/London").iso(ms("2026-01-02T03:04:05Z")).endswith("+00:00")


@pytest.mark.parametrize(
    ("zone", "day", "start"),
    [
        ("Europe/Paris", date(2026, 3, 29), "2026-03-28T23:00:00Z"),
        ("Europe/Paris", date(2026, 10, 26), "2026-10-25T23:00:00Z"),
        # Santiago skips midnight when DST starts: the day begins at the jump.
        ("America/Santiago", date(2026, 9, 6), "2026-09-06T04:00:00Z"),
    ],
)
def test_a_day_starts_at_its_local_midnight(zone, day, start):
    assert iso_ms(LocalClock(zone).day_start(day)) == start.replace("Z", ".000Z")


@pytest.mark.parametrize(
    ("millis", "text"),
    [
        (0, "00:00:00"),
        (999, "00:00:00"),
        (3_599_999, "00:59:59"),
        (360_000_000, "100:00:00"),
        (-5, "00:00:00"),
    ],
)
def test_durations_are_hours_minutes_seconds(millis, text):
    assert duration_text(millis) == text


# --- segments ---------------------------------------------------------------------------------


def timer(start: str, *steps: tuple[str, str], allocated_ms: int = 3_600_000) -> dict:
    """Build a timer row by running the real transitions at the given instants."""
    row = new_timer_values(
        "t1",
        "alice",
        {
            "allocated_ms": allocated_ms,
            "title": "T",
            "description": "",
            "tag_ids": "[]",
            "schedule_id": None,
            "todo_id": None,
        },
        ms(start),
    )
    moves = {
        "pause": pause,
        "resume": resume,
        "stop": lambda r, n: finish(r, n, "COMPLETED"),
        "cancel": lambda r, n: finish(r, n, "CANCELLED"),
    }
    entries = []
    for action, at in steps:
        changes = moves[action](row, ms(at))
        entry = history_entry(row, changes, ms(at))
        entries += [entry["entry"]] if entry else []
        row = {**row, **changes}
    return {**row, "pause_history": "[" + ",".join(entries[-HISTORY_MAX:]) + "]"}


def runs(row: dict, now: str = "2026-03-01T12:00:00Z") -> list[Segment]:
    from server.domain.timers.logic import elapsed_ms

    marks = parse_history(orjson.loads(row["pause_history"]))
    return split_runs(
        marks, row["started_at"], row["status"], row["ended_at"], elapsed_ms(row, ms(now))
    )


def test_a_paused_and_resumed_timer_has_two_runs():
    row = timer(
        "2026-03-01T09:00:00Z",
        ("pause", "2026-03-01T09:25:00Z"),
        ("resume", "2026-03-01T09:40:00Z"),
        ("stop", "2026-03-01T10:00:00.500Z"),
    )
    assert runs(row) == [
        Segment(1, ms("2026-03-01T09:00:00Z"), ms("2026-03-01T09:25:00Z"), 25 * 60_000),
        Segment(2, ms("2026-03-01T09:40:00Z"), ms("2026-03-01T10:00:00.500Z"), 20 * 60_000 + 500),
    ]


def test_a_running_timer_ends_with_an_open_run():
    row = timer(
        "2026-03-01T11:00:00Z",
        ("pause", "2026-03-01T11:10:00Z"),
        ("resume", "2026-03-01T11:50:00Z"),
    )
    assert runs(row)[-1] == Segment(2, ms("2026-03-01T11:50:00Z"), None, 10 * 60_000)


def test_a_timer_stopped_while_paused_ends_at_its_pause():
    row = timer(
        "2026-03-01T09:00:00Z",
        ("pause", "2026-03-01T09:30:00Z"),
        ("cancel", "2026-03-01T10:30:00Z"),
    )
    assert runs(row) == [
        Segment(1, ms("2026-03-01T09:00:00Z"), ms("2026-03-01T09:30:00Z"), 30 * 60_000)
    ]
    assert row["accumulated_ms"] == 30 * 60_000


def test_a_timer_never_paused_is_one_run():
    row = timer("2026-03-01T09:00:00Z", ("stop", "2026-03-01T09:45:00Z"))
    assert runs(row) == [
        Segment(1, ms("2026-03-01T09:00:00Z"), ms("2026-03-01T09:45:00Z"), 45 * 60_000)
    ]


@pytest.mark.parametrize("pairs", [HISTORY_MAX // 2 + 3, HISTORY_MAX // 2 + 4])
def test_a_truncated_history_folds_the_dropped_runs_into_run_zero(pairs):
    steps = []
    base = ms("2026-03-01T00:00:00Z")
    for i in range(pairs):  # run 10 min, pause 5 min, each time
        steps += [
            ("pause", iso_ms(base + (15 * i + 10) * 60_000)),
            ("resume", iso_ms(base + 15 * (i + 1) * 60_000)),
        ]
    steps.append(("pause", iso_ms(base + (15 * pairs + 10) * 60_000)))
    row = timer("2026-03-01T00:00:00Z", *steps)
    found = runs(row)
    assert found[0].number == 0
    assert found[0].start_ms == base
    assert [s.number for s in found[1:]] == list(range(1, len(found)))
    assert sum(s.run_ms for s in found) == row["accumulated_ms"] == (pairs + 1) * 10 * 60_000
    assert all(s.run_ms == 10 * 60_000 for s in found[1:])
    assert found[-1].end_ms == base + (15 * pairs + 10) * 60_000


# --- timesheet --------------------------------------------------------------------------------


def sheet(segments: bool = False) -> Timesheet:
    return Timesheet(LocalClock("Europe/Paris"), {"g1": "Deep, work", "g2": "Écriture"}, segments)


def as_row(values: dict) -> tuple:
    """Lay a timer row out as the export reads it: FIELDS, the keyset column, the history."""
    return (*(values[name] for name in FIELDS), values["created_at"], values["pause_history"])


def test_the_csv_header_is_the_documented_columns():
    assert sheet().csv_header() == (",".join(COLUMNS) + "\r\n").encode()
    assert COLUMNS[:7] == (
        "Description",
        "Start date",
        "Start time",
        "End date",
        "End time",
        "Duration",
        "Tags",
    )


def test_a_timer_across_the_spring_jump_is_one_row_in_local_time():
    row = timer("2026-03-29T00:30:00Z", ("stop", "2026-03-29T02:30:00Z")) | {
        "title": 'Call "Acme", renewal',
        "tag_ids": '["g1","g2","gone"]',
    }
    text = sheet().csv([as_row(row)], ms("2026-04-01T00:00:00Z")).decode()
    assert text == (
        '"Call ""Acme"", renewal",2026-03-29,01:30:00,2026-03-29,04:30:00,02:00:00,'
        '"Deep, work, Écriture",,COMPLETED,,01:00:00,,,t1\r\n'
    )
    assert next(csv.reader(io.StringIO(text)))[0] == 'Call "Acme", renewal'


def test_jsonl_carries_the_same_row_typed():
    row = timer(
        "2026-03-29T00:30:00Z",
        ("pause", "2026-03-29T01:00:00Z"),
        ("resume", "2026-03-29T01:30:00Z"),
    ) | {"tag_ids": '["g2"]'}
    lines = sheet(segments=True).jsonl([as_row(row)], ms("2026-03-29T02:00:00Z")).splitlines()
    first, second = (ExportedTimer.model_validate_json(line) for line in lines)
    assert (first.segment, first.start, first.end, first.duration_ms) == (
        1,
        "2026-03-29T01:30:00.000+01:00",
        "2026-03-29T03:00:00.000+02:00",
        1_800_000,
    )
    assert (second.segment, second.start, second.end, second.duration_ms) == (
        2,
        "2026-03-29T03:30:00.000+02:00",
        None,
        1_800_000,
    )
    assert (second.tags, second.tag_ids, second.status) == (["Écriture"], ["g2"], "RUNNING")
