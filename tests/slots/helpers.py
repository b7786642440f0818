"""Shared helpers for the slots engine tests: wall-clock instants and poll definitions."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from server.slots import Grid, PollDefinition, build_grid


def ms(text: str, zone: str = "UTC", fold: int = 0) -> int:
    """Return the UTC ms of a wall-clock time in ``zone`` (or of an ISO instant with offset)."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(zone), fold=fold)
    return int(moment.timestamp() * 1000)


def utc(instant: int) -> str:
    """Return an instant as a short UTC string, for readable assertions."""
    return datetime.fromtimestamp(instant / 1000, UTC).strftime("%Y-%m-%d %H:%M")


def poll(**changes: Any) -> PollDefinition:
    """Return a definition: Mon 2026-06-01 .. Sun 06-07, weekdays 09:00-12:00, 30 min, Berlin."""
    fields: dict[str, Any] = {
        "start_date": date(2026, 6, 1),
        "end_date": date(2026, 6, 7),
        "available_days": [0, 1, 2, 3, 4],
        "start_time": time(9),
        "end_time": time(12),
        "time_slot_minutes": 30,
        "timezone": "Europe/Berlin",
    }
    fields.update(changes)
    return PollDefinition(**fields)


def grid(**changes: Any) -> Grid:
    """Return the grid of ``poll(**changes)``."""
    return build_grid(poll(**changes))


def one_day(day: date, start: time, end: time, slot: int, zone: str) -> Grid:
    """Return the grid of a one-day poll."""
    return grid(
        start_date=day,
        end_date=day,
        available_days=[day.weekday()],
        start_time=start,
        end_time=end,
        time_slot_minutes=slot,
        timezone=zone,
    )
