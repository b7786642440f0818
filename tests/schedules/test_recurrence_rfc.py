"""The recurrence engine against RFC 5545's own examples (section 3.8.5.3).

Every example that fits the model, with DTSTART in America/New_York as the
RFC gives it; expected values are the RFC's local dates and times.
"""

from __future__ import annotations

import itertools
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from server.domain.schedules.recurrence import Series, normalize_rule, occurrences

NY = ZoneInfo("America/New_York")
FAR = 4_102_444_800_000  # 2100-01-01


def ms(local: str, zone: ZoneInfo = NY) -> int:
    return int(datetime.fromisoformat(local).replace(tzinfo=zone).timestamp() * 1000)


def local(instant: int, zone: ZoneInfo = NY) -> str:
    return datetime.fromtimestamp(instant / 1000, zone).strftime("%Y-%m-%d %H:%M")


def expand(dtstart: str, rule: str, limit: int = 200, zone: str = "America/New_York") -> list[str]:
    tz = ZoneInfo(zone)
    start = ms(dtstart, tz)
    series = Series(start, 3_600_000, zone, normalize_rule(rule, start, zone))
    return [local(o, tz) for o in itertools.islice(occurrences(series, start, FAR), limit)]


def days(prefix: str, *items: int, hour: str = "09:00") -> list[str]:
    return [f"{prefix}-{d:02d} {hour}" for d in items]


RFC_EXAMPLES = [
    (
        "daily for 10",
        "1997-09-02T09:00",
        "FREQ=DAILY;COUNT=10",
        None,
        days("1997-09", *range(2, 12)),
    ),
    (
        "every 10 days, 5",
        "1997-09-02T09:00",
        "FREQ=DAILY;INTERVAL=10;COUNT=5",
        None,
        days("1997-09", 2, 12, 22) + days("1997-10", 2, 12),
    ),
    (
        "every other day",
        "1997-09-02T09:00",
        "FREQ=DAILY;INTERVAL=2",
        5,
        days("1997-09", 2, 4, 6, 8, 10),
    ),
    (
        "weekly for 10",
        "1997-09-02T09:00",
        "FREQ=WEEKLY;COUNT=10",
        None,
        days("1997-09", 2, 9, 16, 23, 30) + days("1997-10", 7, 14, 21, 28) + days("1997-11", 4),
    ),
    (
        "weekly until Dec 24",
        "1997-09-02T09:00",
        "FREQ=WEEKLY;UNTIL=19971224T000000Z",
        None,
        days("1997-09", 2, 9, 16, 23, 30)
        + days("1997-10", 7, 14, 21, 28)
        + days("1997-11", 4, 11, 18, 25)
        + days("1997-12", 2, 9, 16, 23),
    ),
    (
        "Tue and Thu for five weeks",
        "1997-09-02T09:00",
        "FREQ=WEEKLY;UNTIL=19971007T000000Z;WKST=SU;BYDAY=TU,TH",
        None,
        days("1997-09", 2, 4, 9, 11, 16, 18, 23, 25, 30) + days("1997-10", 2),
    ),
    (
        "every other week MO,WE,FR",
        "1997-09-01T09:00",
        "FREQ=WEEKLY;INTERVAL=2;UNTIL=19971224T000000Z;WKST=SU;BYDAY=MO,WE,FR",
        None,
        days("1997-09", 1, 3, 5, 15, 17, 19, 29)
        + days("1997-10", 1, 3, 13, 15, 17, 27, 29, 31)
        + days("1997-11", 10, 12, 14, 24, 26, 28)
        + days("1997-12", 8, 10, 12, 22),
    ),
    (
        "every other week TU,TH, 8",
        "1997-09-02T09:00",
        "FREQ=WEEKLY;INTERVAL=2;COUNT=8;WKST=SU;BYDAY=TU,TH",
        None,
        days("1997-09", 2, 4, 16, 18, 30) + days("1997-10", 2, 14, 16),
    ),
    (
        "first Friday, 10",
        "1997-09-05T09:00",
        "FREQ=MONTHLY;COUNT=10;BYDAY=1FR",
        None,
        [
            "1997-09-05 09:00",
            "1997-10-03 09:00",
            "1997-11-07 09:00",
            "1997-12-05 09:00",
            "1998-01-02 09:00",
            "1998-02-06 09:00",
            "1998-03-06 09:00",
            "1998-04-03 09:00",
            "1998-05-01 09:00",
            "1998-06-05 09:00",
        ],
    ),
    (
        "first and last Sunday, every other month",
        "1997-09-07T09:00",
        "FREQ=MONTHLY;INTERVAL=2;COUNT=10;BYDAY=1SU,-1SU",
        None,
        days("1997-09", 7, 28)
        + days("1997-11", 2, 30)
        + days("1998-01", 4, 25)
        + days("1998-03", 1, 29)
        + days("1998-05", 3, 31),
    ),
    (
        "second-to-last Monday, 6",
        "1997-09-22T09:00",
        "FREQ=MONTHLY;COUNT=6;BYDAY=-2MO",
        None,
        [
            "1997-09-22 09:00",
            "1997-10-20 09:00",
            "1997-11-17 09:00",
            "1997-12-22 09:00",
            "1998-01-19 09:00",
            "1998-02-16 09:00",
        ],
    ),
    (
        "third-to-last day",
        "1997-09-28T09:00",
        "FREQ=MONTHLY;BYMONTHDAY=-3",
        6,
        [
            "1997-09-28 09:00",
            "1997-10-29 09:00",
            "1997-11-28 09:00",
            "1997-12-29 09:00",
            "1998-01-29 09:00",
            "1998-02-26 09:00",
        ],
    ),
    (
        "2nd and 15th, 10",
        "1997-09-02T09:00",
        "FREQ=MONTHLY;COUNT=10;BYMONTHDAY=2,15",
        None,
        days("1997-09", 2, 15)
        + days("1997-10", 2, 15)
        + days("1997-11", 2, 15)
        + days("1997-12", 2, 15)
        + days("1998-01", 2, 15),
    ),
    (
        "first and last day, 10",
        "1997-09-30T09:00",
        "FREQ=MONTHLY;COUNT=10;BYMONTHDAY=1,-1",
        None,
        days("1997-09", 30)
        + days("1997-10", 1, 31)
        + days("1997-11", 1, 30)
        + days("1997-12", 1, 31)
        + days("1998-01", 1, 31)
        + days("1998-02", 1),
    ),
    (
        "every 18 months, 10th to 15th",
        "1997-09-10T09:00",
        "FREQ=MONTHLY;INTERVAL=18;COUNT=10;BYMONTHDAY=10,11,12,13,14,15",
        None,
        days("1997-09", 10, 11, 12, 13, 14, 15) + days("1999-03", 10, 11, 12, 13),
    ),
    (
        "Tuesdays every other month",
        "1997-09-02T09:00",
        "FREQ=MONTHLY;INTERVAL=2;BYDAY=TU",
        13,
        days("1997-09", 2, 9, 16, 23, 30)
        + days("1997-11", 4, 11, 18, 25)
        + days("1998-01", 6, 13, 20, 27),
    ),
    (
        "June and July, 10",
        "1997-06-10T09:00",
        "FREQ=YEARLY;COUNT=10;BYMONTH=6,7",
        None,
        [f"{y}-{m} 09:00" for y in range(1997, 2002) for m in ("06-10", "07-10")],
    ),
    (
        "Jan-Mar every other year, 10",
        "1997-03-10T09:00",
        "FREQ=YEARLY;INTERVAL=2;COUNT=10;BYMONTH=1,2,3",
        None,
        ["1997-03-10 09:00"]
        + [f"{y}-{m:02d}-10 09:00" for y in (1999, 2001, 2003) for m in (1, 2, 3)],
    ),
    (
        "days 1, 100, 200 every third year",
        "1997-01-01T09:00",
        "FREQ=YEARLY;INTERVAL=3;COUNT=10;BYYEARDAY=1,100,200",
        None,
        [
            "1997-01-01 09:00",
            "1997-04-10 09:00",
            "1997-07-19 09:00",
            "2000-01-01 09:00",
            "2000-04-09 09:00",
            "2000-07-18 09:00",
            "2003-01-01 09:00",
            "2003-04-10 09:00",
            "2003-07-19 09:00",
            "2006-01-01 09:00",
        ],
    ),
    (
        "every 20th Monday",
        "1997-05-19T09:00",
        "FREQ=YEARLY;BYDAY=20MO",
        3,
        ["1997-05-19 09:00", "1998-05-18 09:00", "1999-05-17 09:00"],
    ),
    (
        "Monday of week 20",
        "1997-05-12T09:00",
        "FREQ=YEARLY;BYWEEKNO=20;BYDAY=MO",
        3,
        ["1997-05-12 09:00", "1998-05-11 09:00", "1999-05-17 09:00"],
    ),
    (
        "Thursdays in March",
        "1997-03-13T09:00",
        "FREQ=YEARLY;BYMONTH=3;BYDAY=TH",
        11,
        days("1997-03", 13, 20, 27)
        + days("1998-03", 5, 12, 19, 26)
        + days("1999-03", 4, 11, 18, 25),
    ),
    (
        "Friday the 13th (DTSTART first, as clients show it)",
        "1997-09-02T09:00",
        "FREQ=MONTHLY;BYDAY=FR;BYMONTHDAY=13",
        6,
        [
            "1997-09-02 09:00",
            "1998-02-13 09:00",
            "1998-03-13 09:00",
            "1998-11-13 09:00",
            "1999-08-13 09:00",
            "2000-10-13 09:00",
        ],
    ),
    (
        "first Saturday after first Sunday",
        "1997-09-13T09:00",
        "FREQ=MONTHLY;BYDAY=SA;BYMONTHDAY=7,8,9,10,11,12,13",
        10,
        [
            "1997-09-13 09:00",
            "1997-10-11 09:00",
            "1997-11-08 09:00",
            "1997-12-13 09:00",
            "1998-01-10 09:00",
            "1998-02-07 09:00",
            "1998-03-07 09:00",
            "1998-04-11 09:00",
            "1998-05-09 09:00",
            "1998-06-13 09:00",
        ],
    ),
    (
        "US election day",
        "1996-11-05T09:00",
        "FREQ=YEARLY;INTERVAL=4;BYMONTH=11;BYDAY=TU;BYMONTHDAY=2,3,4,5,6,7,8",
        3,
        ["1996-11-05 09:00", "2000-11-07 09:00", "2004-11-02 09:00"],
    ),
    (
        "third TU/WE/TH, 3 months",
        "1997-09-04T09:00",
        "FREQ=MONTHLY;COUNT=3;BYDAY=TU,WE,TH;BYSETPOS=3",
        None,
        ["1997-09-04 09:00", "1997-10-07 09:00", "1997-11-06 09:00"],
    ),
    (
        "second-to-last weekday",
        "1997-09-29T09:00",
        "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-2",
        7,
        [
            "1997-09-29 09:00",
            "1997-10-30 09:00",
            "1997-11-27 09:00",
            "1997-12-30 09:00",
            "1998-01-29 09:00",
            "1998-02-26 09:00",
            "1998-03-30 09:00",
        ],
    ),
    (
        "every 15 minutes, 6",
        "1997-09-02T09:00",
        "FREQ=MINUTELY;INTERVAL=15;COUNT=6",
        None,
        [f"1997-09-02 {t}" for t in ("09:00", "09:15", "09:30", "09:45", "10:00", "10:15")],
    ),
    (
        "every hour and a half, 4",
        "1997-09-02T09:00",
        "FREQ=MINUTELY;INTERVAL=90;COUNT=4",
        None,
        [f"1997-09-02 {t}" for t in ("09:00", "10:30", "12:00", "13:30")],
    ),
    (
        "every 20 minutes 9 to 16:40",
        "1997-09-02T09:00",
        "FREQ=DAILY;BYHOUR=9,10,11,12,13,14,15,16;BYMINUTE=0,20,40",
        25,
        [f"1997-09-02 {h:02d}:{m:02d}" for h in range(9, 17) for m in (0, 20, 40)]
        + ["1997-09-03 09:00"],
    ),
    (
        "WKST=MO",
        "1997-08-05T09:00",
        "FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=TU,SU;WKST=MO",
        None,
        days("1997-08", 5, 10, 19, 24),
    ),
    (
        "WKST=SU",
        "1997-08-05T09:00",
        "FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=TU,SU;WKST=SU",
        None,
        days("1997-08", 5, 17, 19, 31),
    ),
    (
        "invalid dates skipped",
        "2007-01-15T09:00",
        "FREQ=MONTHLY;BYMONTHDAY=15,30;COUNT=5",
        None,
        [
            "2007-01-15 09:00",
            "2007-01-30 09:00",
            "2007-02-15 09:00",
            "2007-03-15 09:00",
            "2007-03-30 09:00",
        ],
    ),
]


@pytest.mark.parametrize(
    ("name", "dtstart", "rule", "limit", "expected"), RFC_EXAMPLES, ids=[e[0] for e in RFC_EXAMPLES]
)
def test_rfc_5545_examples(name, dtstart, rule, limit, expected):
    assert expand(dtstart, rule, limit or 500) == expected


def test_daily_until_dec_24_has_113_occurrences():
    got = expand("1997-09-02T09:00", "FREQ=DAILY;UNTIL=19971224T000000Z", 500)
    assert (len(got), got[0], got[-1]) == (113, "1997-09-02 09:00", "1997-12-23 09:00")


def test_every_day_in_january_for_three_years():
    got = expand(
        "1998-01-01T09:00",
        "FREQ=YEARLY;UNTIL=20000131T140000Z;BYMONTH=1;BYDAY=SU,MO,TU,WE,TH,FR,SA",
        500,
    )
    assert len(got) == 93
    assert {g[:7] for g in got} == {"1998-01", "1999-01", "2000-01"}
