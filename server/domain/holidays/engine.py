"""Public holidays of about 250 countries, offline: the ``holidays`` package behind a checked face.

Pure: no I/O and no clock. Every input is checked against what the package
supports (countries, subdivisions, languages, categories, years) and refused with
a ``HolidayQueryError`` listing what exists, so the package never sees a value it
would silently accept (an unknown language falls back to the environment's locale)
or reject with its own exception.

Each day carries two flags the package does not expose as data:

- ``observed``: a shifted day off (a substitute or "observed" day). Found by
  difference: a (date, name) the package lists with ``observed=True`` but not with
  ``observed=False``. This holds in every language and for countries whose
  shifted days carry no label.
- ``estimated``: a lunar (or other computed) date the package marks as estimated.
  The package marks them only in the name, with its ``estimated_label`` in the
  requested language; the marker is that label through the same translation,
  which is the test the package itself applies (``ObservedHolidayBase._add_observed``).

One year of one category is computed at a time and kept in an LRU cache, so a
range reuses the years another range computed.
"""

from __future__ import annotations

import functools
import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import holidays
from holidays.registry import COUNTRIES

# The longest range one request may ask for.
MAX_YEARS = 50
# Cached (calendar, category, year) entries: a year is ~20 small tuples, so the
# cache holds ~160 country-decades in a few MB.
CACHE_ENTRIES = 8192
_SMALL_WORDS = frozenset({"And", "Of", "The", "Da"})
_CAMEL = re.compile(r"[A-Z][a-z]*")


class HolidayQueryError(ValueError):
    """A query the engine refuses; ``details`` names the field and what exists."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


@dataclass(frozen=True)
class Holiday:
    """One holiday on one date (a date with two holidays gives two)."""

    date: date
    name: str
    observed: bool
    estimated: bool
    category: str


@dataclass(frozen=True)
class CalendarSpec:
    """A checked calendar: canonical country, subdivision, language and categories."""

    country: str
    subdivision: str | None
    language: str | None
    categories: tuple[str, ...]

    @property
    def code_parts(self) -> tuple[str, str | None]:
        """Return (country, subdivision): what tells two calendars apart."""
        return self.country, self.subdivision

    @property
    def code(self) -> str:
        """Return ``KR`` or ``US-CA``: the calendar's name in feed URLs and UIDs."""
        return self.country if self.subdivision is None else f"{self.country}-{self.subdivision}"


class HolidayEngine:
    """Check holiday queries and answer them from the package, caching years."""

    def __init__(self, cache_entries: int = CACHE_ENTRIES) -> None:
        self._year = functools.lru_cache(maxsize=cache_entries)(_compute_year)
        self._countries: list[dict[str, Any]] | None = None

    def resolve(
        self,
        country: str,
        subdivision: str | None = None,
        language: str | None = None,
        categories: Iterable[str] | None = None,
    ) -> CalendarSpec:
        """Return the canonical calendar for these inputs, or raise HolidayQueryError."""
        entity = _entity(country)
        return CalendarSpec(
            country=entity.country,
            subdivision=_subdivision(entity, subdivision),
            language=_language(entity, language),
            categories=_categories(entity, categories),
        )

    def check_years(self, spec: CalendarSpec, start_year: int, end_year: int) -> None:
        """Refuse a reversed range, one over MAX_YEARS, or years the package does not cover."""
        if end_year < start_year:
            raise HolidayQueryError(
                "end_year must not be before start_year", field="end_year", start_year=start_year
            )
        if end_year - start_year + 1 > MAX_YEARS:
            raise HolidayQueryError(
                f"a range spans at most {MAX_YEARS} years", field="end_year", max_years=MAX_YEARS
            )
        first, last = year_bounds(spec.country)
        for field, year in (("start_year", start_year), ("end_year", end_year)):
            if not first <= year <= last:
                raise HolidayQueryError(
                    f"{spec.country} holidays are known from {first} to {last}",
                    field=field,
                    min_year=first,
                    max_year=last,
                )

    def days(self, spec: CalendarSpec, start_year: int, end_year: int) -> list[Holiday]:
        """Return the holidays of the years ``start_year..end_year``, by date."""
        self.check_years(spec, start_year, end_year)
        return self._days(spec, range(start_year, end_year + 1))

    def days_between(self, spec: CalendarSpec, first: date, last: date) -> list[Holiday]:
        """Return the holidays from ``first`` to ``last`` (inclusive); unknown years give none."""
        low, high = year_bounds(spec.country)
        years = range(max(first.year, low), min(last.year, high) + 1)
        return [day for day in self._days(spec, years[:MAX_YEARS]) if first <= day.date <= last]

    def countries(self) -> list[dict[str, Any]]:
        """Return every country with its name, subdivisions, languages, categories and years."""
        if self._countries is None:
            codes = holidays.list_supported_countries(include_aliases=False)
            self._countries = [_country_view(code) for code in sorted(codes)]
        return self._countries

    def title(self, spec: CalendarSpec) -> str:
        """Return a calendar's display name: "Germany (Bayern) holidays"."""
        country = next(c for c in self.countries() if c["code"] == spec.country)
        names = {s["code"]: s["name"] for s in country["subdivisions"]}
        where = country["name"]
        if spec.subdivision is not None:
            where += f" ({names.get(spec.subdivision) or spec.subdivision})"
        return f"{where} holidays"

    def _days(self, spec: CalendarSpec, years: Sequence[int]) -> list[Holiday]:
        found: list[Holiday] = []
        for year in years:
            seen: set[tuple[date, str]] = set()
            by_category = [
                self._year(spec.country, spec.subdivision, spec.language, category, year)
                for category in spec.categories
            ]
            # A name listed by two categories on one date is one holiday (the first category's).
            for day in sorted((d for days in by_category for d in days), key=_order(spec)):
                if (day.date, day.name) not in seen:
                    seen.add((day.date, day.name))
                    found.append(day)
        return found


def year_bounds(country: str) -> tuple[int, int]:
    """Return the first and last year the package knows for ``country``."""
    entity = _entity(country)
    return entity.start_year, entity.end_year


def _order(spec: CalendarSpec) -> Any:
    rank = {category: n for n, category in enumerate(spec.categories)}
    return lambda day: (day.date, rank[day.category])


def _entity(country: str) -> Any:
    code = country.strip().upper()
    supported = holidays.list_supported_countries(include_aliases=False)
    if code not in supported:
        raise HolidayQueryError(
            f"unknown country {country!r}", field="country", countries=sorted(supported)
        )
    return getattr(holidays, code)


def _subdivision(entity: Any, subdivision: str | None) -> str | None:
    if subdivision is None:
        return None
    known = {code.casefold(): code for code in entity.subdivisions}
    aliases = {name.casefold(): code for name, code in entity.subdivisions_aliases.items()}
    key = subdivision.strip().casefold()
    found = known.get(key) or aliases.get(key)
    if found is None or found not in entity.subdivisions:
        raise HolidayQueryError(
            f"{entity.country} has no subdivision {subdivision!r}",
            field="subdivision",
            subdivisions=list(entity.subdivisions),
        )
    return str(found)


def _language(entity: Any, language: str | None) -> str | None:
    supported = tuple(entity.supported_languages)
    if language is None:
        return entity.default_language if entity.default_language in supported else None
    key = language.strip().replace("-", "_").casefold()
    for code in supported:
        if code.casefold() == key:
            return str(code)
    raise HolidayQueryError(
        f"{entity.country} holiday names are not available in {language!r}",
        field="language",
        languages=sorted(supported),
    )


def _categories(entity: Any, categories: Iterable[str] | None) -> tuple[str, ...]:
    supported = tuple(entity.supported_categories)
    wanted = [c.strip().lower() for c in categories or ()] or [entity.default_category]
    unknown = sorted(set(wanted) - set(supported))
    if unknown:
        raise HolidayQueryError(
            f"{entity.country} has no holiday category {', '.join(unknown)}",
            field="categories",
            categories=sorted(supported),
        )
    # The package's own order, so equal sets are one cache key and one answer.
    return tuple(c for c in supported if c in wanted)


def _compute_year(
    country: str, subdivision: str | None, language: str | None, category: str, year: int
) -> tuple[Holiday, ...]:
    """Compute one year of one category, with the observed and estimated flags."""
    with warnings.catch_warnings():
        # Some entities warn about years their sources do not cover (India's
        # optional holidays outside 2001-2035); the days are still the package's answer.
        warnings.simplefilter("ignore")
        shown = _build(country, subdivision, language, category, year, observed=True)
        plain = _build(country, subdivision, language, category, year, observed=False)
    unshifted = {(day, name) for day in plain for name in plain.get_list(day)}
    marker = _estimated_marker(shown)
    return tuple(
        Holiday(
            date=day,
            name=name,
            observed=(day, name) not in unshifted,
            estimated=bool(marker) and marker in name,
            category=category,
        )
        for day in sorted(shown)
        if day.year == year
        for name in shown.get_list(day)
    )


def _build(
    country: str,
    subdivision: str | None,
    language: str | None,
    category: str,
    year: int,
    *,
    observed: bool,
) -> Any:
    return holidays.country_holidays(
        country,
        subdiv=subdivision,
        years=year,
        expand=False,
        observed=observed,
        language=language,
        categories=(category,),
    )


def _estimated_marker(shown: Any) -> str:
    """Return the word the package adds to estimated names in this language ('' if none)."""
    label = getattr(shown, "estimated_label", None)
    if not label:
        return ""
    # Labels wrap the marker in ASCII or full-width (Chinese) parentheses.
    return str(shown.tr(label)).replace("%s", "").strip(" ()\uff08\uff09")


def _country_view(code: str) -> dict[str, Any]:
    entity = getattr(holidays, code)
    names = {code: name for name, code in reversed(entity.subdivisions_aliases.items())}
    return {
        "code": code,
        "name": _country_name(code),
        "subdivisions": [{"code": s, "name": names.get(s)} for s in entity.subdivisions],
        "languages": sorted(entity.supported_languages),
        "default_language": _language(entity, None),
        "categories": list(entity.supported_categories),
        "default_category": entity.default_category,
        "start_year": entity.start_year,
        "end_year": entity.end_year,
    }


def _country_name(code: str) -> str:
    """Return the English name the package's registry gives the country."""
    class_name = next(names[0] for names in COUNTRIES.values() if names[1] == code)
    words = _CAMEL.findall(class_name)
    return " ".join(w.lower() if n and w in _SMALL_WORDS else w for n, w in enumerate(words))
