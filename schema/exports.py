"""Exports: the query parameters of ``GET /v1/export/*`` and the records they write."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    StringConstraints,
    TypeAdapter,
    field_validator,
)

from schema.base import Instant, Strict
from schema.commands.tags import TagIds
from schema.resources import TimerStatus
from schema.zones import Zone

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_INSTANT: TypeAdapter[str] = TypeAdapter(Instant)


def _day_or_instant(value: str) -> str:
    if _DAY.match(value):
        try:
            date.fromisoformat(value)
        except ValueError:
            raise ValueError("must be a date YYYY-MM-DD or an RFC 3339 instant") from None
        return value
    return _INSTANT.validate_python(value)


# A calendar day (``2026-03-29``, read in the export's zone) or an RFC 3339 instant.
DayOrInstant = Annotated[
    str,
    StringConstraints(max_length=40),
    Field(json_schema_extra={"anyOf": [{"format": "date"}, {"format": "date-time"}]}),
    AfterValidator(_day_or_instant),
]


def _split(value: object) -> object:
    return [part for part in value.split(",") if part] if isinstance(value, str) else value


def _distinct_statuses(values: list[TimerStatus]) -> list[TimerStatus]:
    if len(set(values)) != len(values):
        raise ValueError("status must not repeat")
    return values


class TimerExportQuery(Strict):
    """Query parameters of GET /v1/export/timers.csv and .jsonl."""

    start: DayOrInstant | None = Field(default=None, alias="from")
    to: DayOrInstant | None = None
    tz: Zone | None = None
    status: (
        Annotated[list[TimerStatus], Field(max_length=4), AfterValidator(_distinct_statuses)] | None
    ) = None
    tag_ids: TagIds | None = None
    rows: Literal["timers", "segments"] = "timers"

    _lists = field_validator("status", "tag_ids", mode="before")(_split)


class ExportedTimer(BaseModel):
    """One line of timers.jsonl: a timer, or one run segment of it with ``rows=segments``.

    Instants carry the export zone's offset; ``end`` is null while the timer (or
    segment) runs, and then ``duration_ms`` is its run time when the row was read.
    """

    id: str
    title: str
    description: str
    status: TimerStatus
    segment: int | None
    start: str
    end: str | None
    duration_ms: int
    allocated_ms: int
    tags: list[str]
    tag_ids: list[str]
    schedule_id: str | None
    todo_id: str | None


Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class ArchiveFile(BaseModel):
    """One file of the account archive, as the manifest describes it."""

    name: str
    resource: str
    rows: int
    bytes: int
    sha256: Sha256


class AccountManifest(BaseModel):
    """manifest.json, the last entry of the account archive."""

    format: Literal["hipster-timer.account"]
    format_version: Literal[1]
    user_id: str
    generated_at: str
    files: list[ArchiveFile]
