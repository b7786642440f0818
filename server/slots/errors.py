"""The engine's one error: every problem found, each naming its field and why."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeGuard

# Wire details name at most this many problems (inputs are bounded, but an
# error frame listing 10,000 instants helps nobody); ``count`` says how many.
MAX_NAMED = 100

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Instants a datetime can hold in every zone (years 2..9998), in ms.
_MIN_MS = (datetime(2, 1, 1, tzinfo=UTC) - _EPOCH) // timedelta(milliseconds=1)
_MAX_MS = (datetime(9998, 12, 31, tzinfo=UTC) - _EPOCH) // timedelta(milliseconds=1)


@dataclass(frozen=True, slots=True)
class Problem:
    """One refused value: the field (``cells[3]``, ``end_time``), a stable reason, a sentence."""

    field: str
    reason: str
    message: str


class SlotsError(ValueError):
    """Input the engine refuses; ``problems`` names every offending field or instant."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        first = self.problems[0].message
        more = len(self.problems) - 1
        super().__init__(f"{first} (and {more} more)" if more else first)

    def details(self) -> dict[str, Any]:
        """Return the problems as validation_error details: the first MAX_NAMED and the count."""
        named = [
            {"field": p.field, "reason": p.reason, "message": p.message}
            for p in self.problems[:MAX_NAMED]
        ]
        return {"errors": named, "count": len(self.problems)}


def refuse(problems: Sequence[Problem]) -> None:
    """Raise SlotsError when there is any problem."""
    if problems:
        raise SlotsError(problems)


def is_int(value: object) -> TypeGuard[int]:
    """Return whether ``value`` is an int and not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


def in_range(value: int) -> bool:
    """Return whether an instant (ms) is one every zone can turn into a local time."""
    return _MIN_MS <= value <= _MAX_MS


def iso(ms: int) -> str:
    """Return an instant (UTC ms) as RFC 3339 UTC with milliseconds, or as ms when out of range."""
    if not in_range(ms):
        return f"{ms} ms"
    moment = _EPOCH + timedelta(milliseconds=ms)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
