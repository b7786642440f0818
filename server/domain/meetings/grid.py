"""A poll's grid from its stored or sent fields, through the slot engine (``server.slots``)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from datetime import date, time
from typing import Any

from schema.errors import ErrorCode
from server.errors import ApiError
from server.slots import Grid, PollDefinition, SlotsError, build_grid


def grid_of(fields: Mapping[Any, Any]) -> Grid:
    """Return the grid of a poll's fields (a row or a payload); a bad one is validation_error."""
    days = fields["available_days"]
    if isinstance(days, str):
        days = [int(day) for day in days.split(",")]
    definition = PollDefinition(
        date.fromisoformat(fields["start_date"]),
        date.fromisoformat(fields["end_date"]),
        days,
        _wall(fields["start_time"]),
        _wall(fields["end_time"]),
        fields["time_slot_minutes"],
        fields["timezone"],
    )
    with refusals("the poll's grid"):
        return build_grid(definition)


@contextlib.contextmanager
def refusals(what: str) -> Iterator[None]:
    """Turn the engine's refusals into validation_error, every problem named."""
    try:
        yield
    except SlotsError as exc:
        raise ApiError(ErrorCode.VALIDATION_ERROR, f"{what}: {exc}", exc.details()) from None


def _wall(text: str) -> time:
    # "24:00" ends a day's range at midnight: the engine reads time(0) as an end so.
    return time(0) if text == "24:00" else time.fromisoformat(text)
