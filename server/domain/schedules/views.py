"""Wire forms of schedules and occurrences, with instants in UTC or a zone the client names."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from server.clock import basic_utc, iso_ms

Row = Mapping[Any, Any]
Formatter = Callable[[int], str]


def formatter(zone: str | None) -> Formatter:
    """Return how instants are written: UTC ``Z`` by default, else with the zone's offset."""
    if zone is None or zone == "UTC":
        return iso_ms
    tz = ZoneInfo(zone)

    def in_zone(ms: int) -> str:
        return datetime.fromtimestamp(ms / 1000, tz).isoformat(timespec="milliseconds")

    return in_zone


def schedule_view(row: Row, fmt: Formatter = iso_ms) -> dict[str, Any]:
    """Build the wire form of a series (or a single schedule)."""
    return {
        "id": row["id"],
        "owner_id": row["owner_id"],
        "title": row["title"],
        "description": row["description"],
        "start_time": fmt(row["start_at"]),
        "end_time": fmt(row["end_at"]),
        "timezone": row["timezone"],
        "recurrence_rule": row["recurrence_rule"],
        "recurrence_end": None if row["recurrence_end"] is None else fmt(row["recurrence_end"]),
        "state": row["state"],
        "tag_ids": orjson.loads(row["tag_ids"]),
        "source_todo_id": row["source_todo_id"],
        "series_id": None,
        "original_start": None,
        "overridden": False,
        "created_at": iso_ms(row["created_at"]),
        "updated_at": iso_ms(row["updated_at"]),
        "version": row["version"],
    }


def occurrence_view(
    series: Row, original_start: int, override: Row | None, fmt: Formatter = iso_ms
) -> dict[str, Any]:
    """Build the wire form of one occurrence of a series, its override applied."""
    return OccurrenceViews(fmt).view(series, original_start, override)


class OccurrenceViews:
    """Builds occurrence views; what a series gives every occurrence is computed once."""

    def __init__(self, fmt: Formatter = iso_ms) -> None:
        self.fmt = fmt
        self._templates: dict[str, dict[str, Any]] = {}

    def view(self, series: Row, original: int, override: Row | None) -> dict[str, Any]:
        """Return the occurrence ``original`` of ``series``."""
        template = self._templates.get(series["id"])
        if template is None:
            template = self._templates[series["id"]] = self._template(series)
        fmt = self.fmt
        if override is None:
            start = fmt(original)
            return {
                **template,
                "id": f"{series['id']}:{basic_utc(original)}",
                "start_time": start,
                "end_time": fmt(original + series["end_at"] - series["start_at"]),
                "original_start": start,
            }
        return {
            **template,
            "id": f"{series['id']}:{basic_utc(original)}",
            "title": override["title"] or series["title"],
            "description": _first(override["description"], series["description"]),
            "start_time": fmt(override["start_at"]),
            "end_time": fmt(override["end_at"]),
            "state": override["state"] or series["state"],
            "original_start": fmt(original),
            "overridden": True,
            "updated_at": iso_ms(max(series["updated_at"], override["updated_at"])),
            "version": override["version"],
        }

    def _template(self, series: Row) -> dict[str, Any]:
        view = schedule_view(series, self.fmt)
        view["series_id"] = series["id"]
        return view


def _first(value: str | None, default: str) -> str:
    return default if value is None else value
