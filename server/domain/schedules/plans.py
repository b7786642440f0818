"""Plans: a rule compiled for one DTSTART and zone, and the wall-clock times it yields.

A plan holds dateutil's arguments with the defaults DTSTART implies made
explicit, so dateutil can be re-anchored near any window with the sequence
unchanged, and the times of day and days the arithmetic fast paths need.
Everything here is naive wall-clock time; turning it into instants is the
expansion's job.
"""

from __future__ import annotations

import calendar
import functools
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from dateutil import rrule as du

from server.domain.schedules.rules import FREQS, Rule, parse_rule
from server.domain.schedules.zones import (
    _EPOCH_ORD,
    _MAX_LOCAL_MS,
    _MAX_ORD,
    _MIN_ORD,
    DAY_MS,
    _naive,
    _naive_ms,
    _Zone,
    _zone,
)

_DU_FREQ: dict[str, Any] = dict(
    zip(FREQS, (du.YEARLY, du.MONTHLY, du.WEEKLY, du.DAILY, du.HOURLY, du.MINUTELY), strict=True)
)


# --------------------------------------------------------------------------- plans


@dataclass(frozen=True)
class _Plan:
    """What one (DTSTART, zone, rule) needs to expand quickly; built once and cached."""

    rule: Rule
    zone: _Zone
    start_ms: int
    start: datetime  # DTSTART as naive wall-clock time, whole seconds
    start_local_ms: int
    kwargs: dict[str, Any]  # dateutil arguments, DTSTART's implied defaults made explicit
    times: tuple[int, ...]  # the times of day (ms) of DAILY and coarser rules
    fast: bool
    origin: int  # DTSTART's local day (ordinal)
    week_days: tuple[int, ...]  # WEEKLY: the selected days, as offsets from the week's start
    month_days: tuple[int, ...]  # MONTHLY, YEARLY: BYMONTHDAY, or DTSTART's day it implies

    @property
    def limit(self) -> int:
        """Return the exclusive upper bound UNTIL puts on starts."""
        return _MAX_LOCAL_MS if self.rule.until_ms is None else self.rule.until_ms + 1


@functools.lru_cache(maxsize=16384)
def _plan(start_ms: int, zone: str, text: str) -> _Plan:
    rule = parse_rule(text, zone)
    tz = _zone(zone)
    start = _naive(tz.local_ms(start_ms))
    kwargs = _explicit(rule, start)
    times = tuple(
        sorted(
            (h * 3600 + m * 60 + s) * 1000
            for h, m, s in itertools.product(
                kwargs["byhour"] or (), kwargs["byminute"] or (), kwargs["bysecond"] or ()
            )
        )
    )
    fast = rule.freq in ("DAILY", "WEEKLY", "MONTHLY", "YEARLY") and not (
        rule.bysetpos
        or rule.byweekno
        or rule.byyearday
        or (rule.freq == "YEARLY" and rule.byday and not rule.bymonth)
    )
    weekdays = kwargs["byweekday"] or ()
    week_days = tuple(sorted({(d.weekday - rule.wkst) % 7 for d in weekdays}))
    month_days = kwargs["bymonthday"] or ()
    return _Plan(
        rule,
        tz,
        start_ms,
        start,
        _naive_ms(start),
        kwargs,
        times,
        fast,
        start.toordinal(),
        week_days,
        month_days,
    )


def _explicit(rule: Rule, start: datetime) -> dict[str, Any]:
    """Return dateutil's arguments with the defaults DTSTART implies written out.

    dateutil fills missing BYxxx parts from DTSTART; a re-anchored DTSTART
    would change them, so they are fixed here once from the real one.
    """
    freq = rule.freq
    day_parts = rule.byweekno or rule.byyearday or rule.bymonthday or rule.byday
    kwargs: dict[str, Any] = {
        "interval": rule.interval,
        "wkst": rule.wkst,
        "bymonth": rule.bymonth or None,
        "byweekno": rule.byweekno or None,
        "byyearday": rule.byyearday or None,
        "bymonthday": rule.bymonthday or None,
        "byweekday": tuple(du.weekday(d, n or None) for n, d in rule.byday) or None,
        "bysetpos": rule.bysetpos or None,
        "byhour": rule.byhour or ((start.hour,) if freq not in ("HOURLY", "MINUTELY") else None),
        "byminute": rule.byminute or ((start.minute,) if freq != "MINUTELY" else None),
        "bysecond": rule.bysecond or (start.second,),
    }
    if not day_parts and freq == "YEARLY":
        kwargs["bymonth"] = rule.bymonth or (start.month,)
    if not day_parts and freq in ("YEARLY", "MONTHLY"):
        kwargs["bymonthday"] = (start.day,)
    if not day_parts and freq == "WEEKLY":
        kwargs["byweekday"] = (du.weekday(start.weekday()),)
    return kwargs


def _rrule(plan: _Plan, dtstart: datetime) -> du.rrule:
    return du.rrule(_DU_FREQ[plan.rule.freq], dtstart=dtstart, cache=False, **plan.kwargs)


# --------------------------------------------------------------------------- wall-clock times


def _rrule_locals(plan: _Plan, lo_local: int, hi_local: int) -> Iterator[int]:
    """Yield the rule's naive wall-clock times (ms) in [lo_local, hi_local], via dateutil."""
    lo_local = max(lo_local, plan.start_local_ms)
    try:
        for moment in _rrule(plan, _anchor(plan, _naive(lo_local))):
            local = _naive_ms(moment)
            if local > hi_local:
                return
            if local >= lo_local:
                yield local
    except ValueError:  # MINUTELY with unreachable BYHOUR: dateutil says so mid-way
        return


def _anchor(plan: _Plan, target: datetime) -> datetime:
    """Return the start of the last period of the rule's own grid at or before ``target``.

    Moving DTSTART by whole periods (INTERVAL times the FREQ unit, in wall-clock
    terms) keeps dateutil's sequence, as the implied defaults are explicit;
    a period's start keeps every occurrence of that period (BYSETPOS included).
    """
    first, wanted = _period(plan, plan.start), _period(plan, target)
    steps = (wanted - first) // plan.rule.interval
    if steps <= 0:
        return plan.start
    return _period_start(plan, first + steps * plan.rule.interval)


def _period(plan: _Plan, moment: datetime) -> int:
    freq, ordinal = plan.rule.freq, moment.toordinal()
    if freq == "YEARLY":
        return moment.year
    if freq == "MONTHLY":
        return moment.year * 12 + moment.month - 1
    if freq == "WEEKLY":
        return (ordinal - 1 - plan.rule.wkst) // 7
    if freq == "DAILY":
        return ordinal
    hours = ordinal * 24 + moment.hour
    return hours if freq == "HOURLY" else hours * 60 + moment.minute


def _period_start(plan: _Plan, index: int) -> datetime:
    freq = plan.rule.freq
    if freq == "YEARLY":
        return datetime(index, 1, 1)
    if freq == "MONTHLY":
        return datetime(index // 12, index % 12 + 1, 1)
    if freq == "WEEKLY":
        return datetime.fromordinal(index * 7 + 1 + plan.rule.wkst)
    if freq == "DAILY":
        return datetime.fromordinal(index)
    minutes = index * 60 if freq == "HOURLY" else index
    return datetime.fromordinal(minutes // 1440) + timedelta(minutes=minutes % 1440)


def _locals(plan: _Plan, lo_local: int, hi_local: int) -> Iterator[int]:
    """Yield the rule's naive wall-clock times (ms) in [lo_local, hi_local], ascending."""
    if not plan.fast:
        yield from _rrule_locals(plan, lo_local, hi_local)
        return
    lo_local = max(lo_local, plan.start_local_ms)
    first, last = lo_local // DAY_MS + _EPOCH_ORD, min(hi_local // DAY_MS + _EPOCH_ORD, _MAX_ORD)
    for ordinal in _DATES[plan.rule.freq](plan, max(first, _MIN_ORD), last):
        base = (ordinal - _EPOCH_ORD) * DAY_MS
        for time_ms in plan.times:
            if lo_local <= base + time_ms <= hi_local:
                yield base + time_ms


# --------------------------------------------------------------------------- dates


def _daily_dates(plan: _Plan, first: int, last: int) -> Iterable[int]:
    """Return the days of a DAILY rule in [first, last] (ordinals)."""
    step, origin = plan.rule.interval, plan.origin
    days = range(origin + -(-(first - origin) // step) * step, last + 1, step)
    rule = plan.rule
    if not (rule.bymonth or rule.bymonthday or rule.byday):
        return days
    return (d for d in days if _day_matches(rule, d))


def _day_matches(rule: Rule, ordinal: int) -> bool:
    moment = datetime.fromordinal(ordinal)
    if rule.bymonth and moment.month not in rule.bymonth:
        return False
    if rule.byday and (ordinal - 1) % 7 not in {d for _, d in rule.byday}:
        return False
    if not rule.bymonthday:
        return True
    length = calendar.monthrange(moment.year, moment.month)[1]
    return moment.day in rule.bymonthday or moment.day - length - 1 in rule.bymonthday


def _weekly_dates(plan: _Plan, first: int, last: int) -> list[int]:
    """Return the days of a WEEKLY rule in [first, last] (ordinals)."""
    rule = plan.rule
    step = 7 * rule.interval
    week = plan.origin - (plan.origin - 1 - rule.wkst) % 7
    if first > week:
        week += (first - week) // step * step
    out: list[int] = []
    while week <= last:
        out.extend(week + offset for offset in plan.week_days if first <= week + offset <= last)
        week += step
    if rule.bymonth:
        return [d for d in out if datetime.fromordinal(d).month in rule.bymonth]
    return out


def _monthly_dates(plan: _Plan, first: int, last: int) -> Iterator[int]:
    """Yield the days of a MONTHLY rule in [first, last] (ordinals)."""
    rule, start = plan.rule, plan.start
    origin = start.year * 12 + start.month - 1
    low = datetime.fromordinal(first)
    steps = max(0, (low.year * 12 + low.month - 1 - origin) // rule.interval)
    index = origin + steps * rule.interval
    while index < 120_000:  # year 10000
        year, month = divmod(index, 12)
        if datetime(year, month + 1, 1).toordinal() > last:
            return
        if not rule.bymonth or month + 1 in rule.bymonth:
            days = _month_days(plan.month_days, rule.byday, year, month + 1)
            yield from (d for d in days if first <= d <= last)
        index += rule.interval


def _yearly_dates(plan: _Plan, first: int, last: int) -> Iterator[int]:
    """Yield the days of a YEARLY rule (no BYSETPOS, BYWEEKNO, BYYEARDAY) in [first, last]."""
    rule = plan.rule
    months = plan.kwargs["bymonth"] or range(1, 13)
    origin, low = plan.start.year, datetime.fromordinal(first).year
    year = origin + max(0, (low - origin) // rule.interval) * rule.interval
    while year <= 9999 and datetime(year, 1, 1).toordinal() <= last:
        for month in months:
            days = _month_days(plan.month_days, rule.byday, year, month)
            yield from (d for d in days if first <= d <= last)
        year += rule.interval


@functools.lru_cache(maxsize=65536)
def _month_days(
    monthdays: tuple[int, ...], byday: tuple[tuple[int, int], ...], year: int, month: int
) -> tuple[int, ...]:
    """Return the days of one month that BYMONTHDAY and BYDAY select (ordinals, ascending)."""
    weekday, length = calendar.monthrange(year, month)
    days = sorted({d if d > 0 else length + 1 + d for d in monthdays}) or range(1, length + 1)
    base = datetime(year, month, 1).toordinal() - 1
    return tuple(
        base + day
        for day in days
        if 1 <= day <= length
        and (not byday or _weekday_matches(byday, (weekday + day - 1) % 7, day, length))
    )


def _weekday_matches(
    byday: tuple[tuple[int, int], ...], weekday: int, day: int, length: int
) -> bool:
    nth, nth_last = (day - 1) // 7 + 1, -((length - day) // 7 + 1)
    return any(d == weekday and n in (0, nth, nth_last) for n, d in byday)


_DATES: dict[str, Any] = {
    "DAILY": _daily_dates,
    "WEEKLY": _weekly_dates,
    "MONTHLY": _monthly_dates,
    "YEARLY": _yearly_dates,
}
