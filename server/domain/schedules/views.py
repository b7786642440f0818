"""Wire forms of schedules and occurrences, with instants in UTC or a zone the client names."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from server.clock import basic_utc, iso_ms
from server.domain.visibility.policy import visibility_view

Row = Mapping[Any, Any]
Formatter = Callable[[int], str]
SeriesView = Callable[[Row, Formatter], dict[str, Any]]
DAY_MS = 86_400_000


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
        "visibility": visibility_view(row),
        "created_at": iso_ms(row["created_at"]),
        "updated_at": iso_ms(row["updated_at"]),
        "version": row["version"],
    }


def occurrence_version(series: Row, override: Row | None) -> int:
    """Return an occurrence's version: its series' plus its override's (0 without one).

    Every change of the series and every change of the occurrence raise it by
    one, so it never goes down; a series change that drops overrides raises the
    series' version past theirs (writes.py), so an occurrence that comes back
    later does not go down either.
    """
    return int(series["version"]) + (0 if override is None else int(override["version"]))


def occurrence_view(
    series: Row, original_start: int, override: Row | None, fmt: Formatter = iso_ms
) -> dict[str, Any]:
    """Build the wire form of one occurrence of a series, its override applied."""
    return OccurrenceViews(fmt).view(series, original_start, override)


# The fields an occurrence sets in its series' template, in the template's order.
_OWN = ("id", "start_time", "end_time", "original_start")


@dataclass(frozen=True)
class Template:
    """What a series gives each of its occurrences: the view, and the view as JSON text
    cut around the values of the fields in ``_OWN`` (``pieces[i]`` ends with the opening
    quote of the i-th, the series id and colon included for ``id``)."""

    view: dict[str, Any]
    pieces: tuple[bytes, ...]
    duration: int


class OccurrenceViews:
    """Builds occurrence views; what a series gives every occurrence is computed once.

    Every view derives from ``series_view`` (the owner's view by default), the
    JSON ones too. ``templates`` (by series id) may be shared by reads of the same
    rows answered in the same zone with the same ``series_view`` (see cache.py);
    by default they last as long as this object. Views share their template's
    nested values (``tag_ids``, ``visibility``): a caller replaces them, never
    changes them in place.
    """

    def __init__(
        self,
        fmt: Formatter = iso_ms,
        templates: dict[str, Template] | None = None,
        series_view: SeriesView = schedule_view,
    ) -> None:
        self.fmt = fmt
        self._templates = {} if templates is None else templates
        self.series_view = series_view

    def single(self, series: Row) -> dict[str, Any]:
        """Return the view of a schedule that does not recur."""
        return self.series_view(series, self.fmt)

    def view(self, series: Row, original: int, override: Row | None) -> dict[str, Any]:
        """Return the occurrence ``original`` of ``series``."""
        template = self.template(series).view
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
            "version": occurrence_version(series, override),
        }

    def write(self, out: list[bytes], series: Row, original: int, override: Row | None) -> None:
        """Append ``view(...)`` as JSON to ``out``: the very bytes ``orjson.dumps`` gives.

        Without an override, that is the template's pieces around the four values,
        which are instants and need no escaping; appending the parts costs less
        than building each occurrence's string.
        """
        if override is not None:
            out.append(orjson.dumps(self.view(series, original, override)))
            return
        template = self._templates.get(series["id"]) or self.template(series)
        p = template.pieces
        if self.fmt is not iso_ms:
            start = self.fmt(original).encode()
            end = self.fmt(original + template.duration).encode()
            out += (p[0], basic_utc(original).encode(), p[1], start, p[2], end, p[3], start, p[4])
            return
        # In UTC the values are made of a few cached parts: the start's day and time
        # of day, both as iso_ms and as basic_utc write them, and the end's.
        day, clock = divmod(original, DAY_MS)
        end_day, end_clock = divmod(original + template.duration, DAY_MS)
        iso_date, basic_date = _utc_day(day)
        iso_time, basic_time = _utc_time(clock)
        end_date, end_time = _utc_day(end_day)[0], _utc_time(end_clock)[0]
        out += (p[0], basic_date, basic_time, p[1], iso_date, iso_time, p[2], end_date, end_time)
        out += (p[3], iso_date, iso_time, p[4])

    def template(self, series: Row) -> Template:
        """Return the template of ``series``, built on first use."""
        template = self._templates.get(series["id"])
        if template is None:
            template = self._templates[series["id"]] = self._template(series)
        return template

    def _template(self, series: Row) -> Template:
        view = self.series_view(series, self.fmt)
        view["series_id"] = series["id"]
        return Template(view, _pieces(view), series["end_at"] - series["start_at"])


def _pieces(view: dict[str, Any]) -> tuple[bytes, ...]:
    """Serialise a template, cut around the values of the ``_OWN`` fields (see Template).

    The fields between two of those are serialised together; the cuts are marked
    with a NUL byte, which orjson never writes unescaped.
    """
    members, run = [], {}
    for key, value in view.items():
        if key not in _OWN:
            run[key] = value
            continue
        if run:
            members.append(orjson.dumps(run)[1:-1])
            run = {}
        opening = orjson.dumps(value + ":")[:-1] if key == "id" else b'"'
        members.append(orjson.dumps(key) + b":" + opening + b'\x00"')
    if run:
        members.append(orjson.dumps(run)[1:-1])
    pieces = tuple((b"{" + b",".join(members) + b"}").split(b"\x00"))
    assert len(pieces) == len(_OWN) + 1, "a template lacks a field an occurrence sets"
    return pieces


@functools.lru_cache(maxsize=4096)
def _utc_day(day: int) -> tuple[bytes, bytes]:
    """Return the date part of the instants of a day (days since the epoch), as
    ``iso_ms`` and as ``basic_utc`` write it."""
    ms = day * DAY_MS
    return iso_ms(ms)[:10].encode(), basic_utc(ms)[:8].encode()


@functools.lru_cache(maxsize=8192)
def _utc_time(clock: int) -> tuple[bytes, bytes]:
    """Return the rest of an instant ``clock`` ms after midnight, as ``iso_ms`` and as
    ``basic_utc`` write it."""
    return iso_ms(clock)[10:].encode(), basic_utc(clock)[8:].encode()


def _first(value: str | None, default: str) -> str:
    return default if value is None else value
