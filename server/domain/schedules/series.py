"""Checking and completing a series' timing: the rule, its bounds, when it ends."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from schema.errors import ErrorCode
from server.domain.schedules.recurrence import (
    RecurrenceError,
    Series,
    normalize_rule,
    occurrences,
    parse_rule,
)
from server.errors import ApiError, validation_error

TIMING = ("start_at", "end_at", "timezone", "recurrence_rule", "recurrence_end")
# Farther than any schedule's occurrence: the engine's open upper bound.
FAR_FUTURE_MS = 253_402_300_799_000  # 9999-12-31T23:59:59Z


def whole_seconds(ms: int) -> int:
    """Truncate to a whole second: occurrence ids name their start to the second."""
    return ms - ms % 1000


def timing(values: Mapping[Any, Any]) -> dict[str, Any]:
    """Check a series' timing and return it normalised, with ``last_end``.

    ``values`` holds start_at, end_at (Unix ms), timezone, recurrence_rule (raw
    text or None) and recurrence_end (ms or None).
    """
    start, end = whole_seconds(values["start_at"]), whole_seconds(values["end_at"])
    if end <= start:
        raise validation_error("end_time must be after start_time", field="end_time")
    rule, until = values["recurrence_rule"], values["recurrence_end"]
    until = None if until is None else whole_seconds(until)
    if rule is None and until is not None:
        raise validation_error("recurrence_end needs a recurrence_rule", field="recurrence_end")
    if until is not None and until < start:
        raise validation_error("recurrence_end is before start_time", field="recurrence_end")
    if rule is not None:
        try:
            rule = normalize_rule(rule, start, values["timezone"])
        except RecurrenceError as exc:
            raise ApiError(
                ErrorCode.INVALID_RRULE, str(exc), {"field": "recurrence_rule"}
            ) from None
    fixed = {
        "start_at": start,
        "end_at": end,
        "timezone": values["timezone"],
        "recurrence_rule": rule,
        "recurrence_end": until,
    }
    return {**fixed, "last_end": last_end(fixed)}


def series_of(row: Mapping[Any, Any]) -> Series:
    """Build the engine's value for a schedule row."""
    return Series(
        start_ms=row["start_at"],
        duration_ms=row["end_at"] - row["start_at"],
        zone=row["timezone"],
        rule=row["recurrence_rule"],
        end_ms=row["recurrence_end"],
    )


def last_end(row: Mapping[Any, Any]) -> int | None:
    """Return a bound on when the series' last occurrence ends; None when it never does.

    COUNT series (at most the engine's cap of occurrences) are walked for their
    exact end; UNTIL and recurrence_end give a bound without expanding anything.
    """
    text = row["recurrence_rule"]
    duration = row["end_at"] - row["start_at"]
    if text is None:
        return int(row["end_at"])
    rule = parse_rule(text, row["timezone"])
    if rule.count is not None:
        starts = list(occurrences(series_of(row), row["start_at"], FAR_FUTURE_MS))
        return starts[-1] + duration if starts else int(row["end_at"])
    bounds = [b for b in (rule.until_ms, row["recurrence_end"]) if b is not None]
    return min(bounds) + duration if bounds else None
