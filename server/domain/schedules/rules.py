"""RRULE bodies: parsing, the checks RFC 5545 and the engine impose, the canonical form.

parse_rule turns an RRULE body into a Rule (UNTIL resolved to an instant in
the series' zone) or raises RecurrenceError saying why; Rule.text is the
canonical body stored and compared everywhere.
"""

from __future__ import annotations

import calendar
import functools
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from server.domain.schedules.zones import RecurrenceError, _naive_ms, _zone

MAX_COUNT = 10_000
MAX_INTERVAL = 1_000
# A rule must yield an occurrence after DTSTART (and all of its COUNT ones)
# within this many years; COUNT expansions stop there too.
SPAN_YEARS = 400

FREQS = ("YEARLY", "MONTHLY", "WEEKLY", "DAILY", "HOURLY", "MINUTELY")
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
# Canonical order of the rule parts; COUNT and UNTIL close the rule.
KEYS = (
    "FREQ",
    "INTERVAL",
    "BYMONTH",
    "BYWEEKNO",
    "BYYEARDAY",
    "BYMONTHDAY",
    "BYDAY",
    "BYHOUR",
    "BYMINUTE",
    "BYSECOND",
    "BYSETPOS",
    "WKST",
    "COUNT",
    "UNTIL",
)
# Numeric BY parts: (lowest, highest, negative values allowed).
RANGES = {
    "BYMONTH": (1, 12, False),
    "BYWEEKNO": (1, 53, True),
    "BYYEARDAY": (1, 366, True),
    "BYMONTHDAY": (1, 31, True),
    "BYHOUR": (0, 23, False),
    "BYMINUTE": (0, 59, False),
    "BYSECOND": (0, 59, False),
    "BYSETPOS": (1, 366, True),
}
_NUMBER = re.compile(r"[+-]?\d{1,4}")
_BYDAY = re.compile(r"([+-]?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)")
_UNTIL = re.compile(r"(\d{8})(?:T(\d{6})(Z?))?")
_STAMP = "%Y%m%dT%H%M%SZ"


# --------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class Rule:
    """A parsed, checked RRULE; UNTIL as a UTC instant, BYDAY as (ordinal or 0, weekday)."""

    freq: str
    interval: int = 1
    count: int | None = None
    until_ms: int | None = None
    bymonth: tuple[int, ...] = ()
    byweekno: tuple[int, ...] = ()
    byyearday: tuple[int, ...] = ()
    bymonthday: tuple[int, ...] = ()
    byday: tuple[tuple[int, int], ...] = ()
    byhour: tuple[int, ...] = ()
    byminute: tuple[int, ...] = ()
    bysecond: tuple[int, ...] = ()
    bysetpos: tuple[int, ...] = ()
    wkst: int = 0

    def text(self) -> str:
        """Return the canonical body: fixed key order, defaults left out, UNTIL in UTC."""
        parts = {"FREQ": self.freq, "INTERVAL": _join([self.interval] if self.interval > 1 else [])}
        for key in RANGES:
            parts[key] = _join(getattr(self, key.lower()))
        parts["BYDAY"] = ",".join(f"{n or ''}{WEEKDAYS[d]}" for n, d in self.byday)
        parts["WKST"] = WEEKDAYS[self.wkst] if self.wkst else ""
        parts["COUNT"] = "" if self.count is None else str(self.count)
        parts["UNTIL"] = "" if self.until_ms is None else utc_stamp(self.until_ms)
        return ";".join(f"{key}={parts[key]}" for key in KEYS if parts[key])


def _join(values: Iterable[int]) -> str:
    return ",".join(str(v) for v in values)


@functools.lru_cache(maxsize=16384)
def parse_rule(text: str, zone: str) -> Rule:
    """Parse and check an RRULE body (an ``RRULE:`` prefix is allowed); raise RecurrenceError."""
    parts = _split_parts(text)
    if "FREQ" not in parts:
        raise RecurrenceError("the rule needs a FREQ (for example FREQ=WEEKLY)")
    freq = parts.pop("FREQ")
    if freq == "SECONDLY":
        raise RecurrenceError("FREQ=SECONDLY is not supported; the finest is FREQ=MINUTELY")
    if freq not in FREQS:
        raise RecurrenceError(f"FREQ must be one of {', '.join(FREQS)}, not {freq!r}")
    if "COUNT" in parts and "UNTIL" in parts:
        raise RecurrenceError("COUNT and UNTIL cannot be used together; choose one")
    values: dict[str, Any] = {"freq": freq}
    for key, value in parts.items():
        values[key.lower()] = _PARSERS[key](key, value, zone)
    rule = Rule(**{("until_ms" if k == "until" else k): v for k, v in values.items()})
    _check_combination(rule)
    return rule


def _split_parts(text: str) -> dict[str, str]:
    body = text.strip()
    if body[:6].upper() == "RRULE:":
        body = body[6:].strip()
    if not body:
        raise RecurrenceError("the rule is empty; expected something like FREQ=WEEKLY;BYDAY=MO")
    parts: dict[str, str] = {}
    for item in body.rstrip(";").split(";"):
        key, eq, value = item.partition("=")
        key, value = key.strip().upper(), value.strip().upper()
        if not eq or not key or not value:
            raise RecurrenceError(f"{item!r} is not a KEY=VALUE rule part")
        if key not in KEYS:
            raise RecurrenceError(f"unknown rule part {key!r}; supported: {', '.join(KEYS)}")
        if key in parts:
            raise RecurrenceError(f"{key} appears twice")
        parts[key] = value
    return parts


def _positive(key: str, value: str, _zone: str) -> int:
    cap = MAX_COUNT if key == "COUNT" else MAX_INTERVAL
    if not value.isdigit() or not 1 <= int(value) <= cap:
        raise RecurrenceError(f"{key} must be a whole number from 1 to {cap}, not {value!r}")
    return int(value)


def _numbers(key: str, value: str, _zone: str) -> tuple[int, ...]:
    low, high, signed = RANGES[key]
    out = set()
    for item in value.split(","):
        number = int(item) if _NUMBER.fullmatch(item) else None
        if (
            number is None
            or (item[0] in "+-" and not signed)
            or not low <= abs(number) <= high
            or (number < 0 and not signed)
        ):
            sign = f"±{low}..±{high}" if signed else f"{low}..{high}"
            raise RecurrenceError(f"{key} values must be in {sign}, not {item!r}")
        out.add(number)
    return tuple(sorted(out))


def _weekdays(key: str, value: str, _zone: str) -> tuple[tuple[int, int], ...]:
    out = set()
    for item in value.split(","):
        match = _BYDAY.fullmatch(item)
        n = int(match[1]) if match and match[1] else 0
        if match is None or (match[1] and not 1 <= abs(n) <= 53):
            raise RecurrenceError(
                f"BYDAY items look like MO, 1FR or -1SU (ordinal ±1..±53), not {item!r}"
            )
        out.add((n, WEEKDAYS.index(match[2])))
    return tuple(sorted(out, key=lambda nd: (nd[1], nd[0])))


def _wkst(key: str, value: str, _zone: str) -> int:
    if value not in WEEKDAYS:
        raise RecurrenceError(f"WKST must be one of {', '.join(WEEKDAYS)}, not {value!r}")
    return WEEKDAYS.index(value)


def _until(key: str, value: str, zone: str) -> int:
    """Turn UNTIL into a UTC instant (ms).

    ``...Z`` is UTC; a local date-time (no Z) is wall-clock time in the series'
    zone; a date means through the end of that local day (23:59:59). A local
    time in a DST gap means "until the clock skipped over it": the last second
    before the gap. An ambiguous local time means its first occurrence (fold=0),
    as for occurrences themselves, so a wall-clock comparison is kept exactly.
    """
    match = _UNTIL.fullmatch(value)
    try:
        moment = datetime.strptime(match[1] + (match[2] or "235959"), "%Y%m%d%H%M%S")  # type: ignore[index]
    except (TypeError, ValueError):
        raise RecurrenceError(
            f"UNTIL must be YYYYMMDD, YYYYMMDDTHHMMSS or YYYYMMDDTHHMMSSZ, not {value!r}"
        ) from None
    naive_ms = _naive_ms(moment)
    if match[3]:  # type: ignore[index]
        return naive_ms
    tz = _zone(zone)
    instant = tz.utc(naive_ms)
    return tz.before_gap(naive_ms) if instant is None else instant


_PARSERS: dict[str, Any] = {
    "INTERVAL": _positive,
    "COUNT": _positive,
    "UNTIL": _until,
    "BYDAY": _weekdays,
    "WKST": _wkst,
    **dict.fromkeys(RANGES, _numbers),
}


def _check_combination(rule: Rule) -> None:
    """Refuse what RFC 5545 forbids (MUST NOT) and what the engine cannot do."""
    freq = rule.freq
    if rule.byweekno and freq != "YEARLY":
        raise RecurrenceError("BYWEEKNO is only allowed with FREQ=YEARLY")
    if rule.byyearday and freq in ("MONTHLY", "WEEKLY", "DAILY"):
        raise RecurrenceError(f"BYYEARDAY is not allowed with FREQ={freq}")
    if rule.bymonthday and freq == "WEEKLY":
        raise RecurrenceError("BYMONTHDAY is not allowed with FREQ=WEEKLY")
    if rule.bysetpos and not _has_by_part(rule):
        raise RecurrenceError("BYSETPOS needs another BYxxx rule part to select from")
    _check_ordinals(rule)
    _check_month_days(rule)
    _check_set_positions(rule)


def _has_by_part(rule: Rule) -> bool:
    return any(getattr(rule, key.lower()) for key in (*RANGES, "BYDAY") if key != "BYSETPOS")


def _check_ordinals(rule: Rule) -> None:
    ordinals = [n for n, _ in rule.byday if n]
    if not ordinals:
        return
    if rule.freq not in ("MONTHLY", "YEARLY"):
        raise RecurrenceError(
            f"BYDAY ordinals (1MO, -1FR) need FREQ=MONTHLY or YEARLY, not {rule.freq}"
        )
    if rule.byweekno:
        raise RecurrenceError("BYDAY ordinals cannot be combined with BYWEEKNO")
    if len(ordinals) != len(rule.byday):
        raise RecurrenceError("BYDAY cannot mix weekdays with and without an ordinal (MO,1FR)")
    if (rule.freq == "MONTHLY" or rule.bymonth) and max(abs(n) for n in ordinals) > 5:
        raise RecurrenceError("a BYDAY ordinal within a month must be in ±1..±5")


def _check_month_days(rule: Rule) -> None:
    months = rule.bymonth or tuple(range(1, 13))
    longest = max(calendar.monthrange(2000, m)[1] for m in months)
    if rule.bymonthday and all(abs(d) > longest for d in rule.bymonthday):
        raise RecurrenceError(f"no month of the rule has day {_join(rule.bymonthday)}")


def _check_set_positions(rule: Rule) -> None:
    """Refuse BYSETPOS values beyond what any period holds (a search that never ends)."""
    if not rule.bysetpos:
        return
    parts = {"MINUTELY": (rule.bysecond,), "HOURLY": (rule.byminute, rule.bysecond)}
    times = math.prod(
        len(p) or 1 for p in parts.get(rule.freq, (rule.byhour, rule.byminute, rule.bysecond))
    )
    days = {"YEARLY": 366, "MONTHLY": 31, "WEEKLY": len(rule.byday) or 1}.get(rule.freq, 1)
    if min(abs(p) for p in rule.bysetpos) > days * times:
        raise RecurrenceError(f"BYSETPOS asks for more than the {days * times} times a period has")


def utc_stamp(ms: int) -> str:
    """Format an instant as UTC basic format, whole seconds: 20260105T090000Z."""
    return datetime.fromtimestamp(ms // 1000, UTC).strftime(_STAMP)
