"""Holiday calendars on the wire: what a query names, and the days and countries answered.

The shapes are checked here; whether a country, subdivision, language or category
exists (and which years the package knows) is checked by the server's holiday
engine, whose refusals list what exists.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field, StringConstraints, model_validator

from schema.base import Strict

# The most categories one query may name (the package has fewer than 30).
MAX_CATEGORIES = 30
# The most holiday calendars one user may overlay on their schedules.
MAX_HOLIDAY_CALENDARS = 5

# ISO 3166-1 alpha-2, in any case ("kr" is "KR").
CountryCode = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z]{2}$", max_length=2), AfterValidator(str.upper)
]
# An ISO 3166-2 subdivision code without the country ("CA", "NSW") or the package's alias.
SubdivisionCode = Annotated[str, StringConstraints(min_length=1, max_length=60)]
# ISO 639 language, optionally with a country: "ko", "en_US" (or "en-US").
LanguageCode = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z]{2,3}(?:[_-][A-Za-z]{2})?$", max_length=6)
]
Category = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_]{1,30}$", max_length=30)]
Categories = Annotated[list[Category], Field(max_length=MAX_CATEGORIES)]
HolidayYear = Annotated[int, Field(ge=1, le=9999)]


class HolidayYears(Strict):
    """One ``year``, or ``start_year`` and ``end_year`` (inclusive, at most 50 years)."""

    year: HolidayYear | None = None
    start_year: HolidayYear | None = None
    end_year: HolidayYear | None = None

    @model_validator(mode="after")
    def _year_or_range(self) -> HolidayYears:
        if self.year is not None and (self.start_year, self.end_year) != (None, None):
            raise ValueError("give year, or start_year and end_year, not both")
        if (self.start_year is None) != (self.end_year is None):
            raise ValueError("give both start_year and end_year")
        return self

    def year_range(self) -> tuple[int, int] | None:
        """Return the first and last year asked for, or None when none was."""
        if self.year is not None:
            return self.year, self.year
        if self.start_year is not None and self.end_year is not None:
            return self.start_year, self.end_year
        return None


class HolidayListData(HolidayYears):
    """A country (and subdivision), the years, the names' language and the categories."""

    country: CountryCode
    subdivision: SubdivisionCode | None = None
    language: LanguageCode | None = None
    categories: Categories | None = None

    @model_validator(mode="after")
    def _years_given(self) -> HolidayListData:
        if self.year_range() is None:
            raise ValueError("give year, or start_year and end_year")
        return self


class HolidayCalendarSpec(Strict):
    """A holiday calendar to overlay on the user's schedules."""

    country: CountryCode
    subdivision: SubdivisionCode | None = None
    language: LanguageCode | None = None


def _distinct_calendars(calendars: list[HolidayCalendarSpec]) -> list[HolidayCalendarSpec]:
    keys = [(c.country, (c.subdivision or "").casefold()) for c in calendars]
    if len(set(keys)) != len(keys):
        raise ValueError("holiday_calendars must not name a country and subdivision twice")
    return calendars


HolidayCalendarSpecs = Annotated[
    list[HolidayCalendarSpec],
    Field(max_length=MAX_HOLIDAY_CALENDARS),
    AfterValidator(_distinct_calendars),
]


class Holiday(BaseModel):
    """One holiday: its date, its name in the calendar's language, and what kind of day it is.

    ``observed``: a shifted day off (substitute or observed day); ``estimated``: a
    computed (lunar) date the package marks as estimated.
    """

    date: str
    name: str
    observed: bool
    estimated: bool
    category: str


class HolidayList(BaseModel):
    """A calendar's holidays over a range of years, by date, with the calendar as resolved."""

    country: str
    subdivision: str | None
    language: str | None
    categories: list[str]
    start_year: int
    end_year: int
    items: list[Holiday]


class HolidaySubdivision(BaseModel):
    """A subdivision of a country: its code and, when the package has one, its name."""

    code: str
    name: str | None


class HolidayCountry(BaseModel):
    """A country the holiday engine knows, with what a query may name for it."""

    code: str
    name: str
    subdivisions: list[HolidaySubdivision]
    languages: list[str]
    default_language: str | None
    categories: list[str]
    default_category: str
    start_year: int
    end_year: int


class HolidayCountryList(BaseModel):
    """Every country the holiday engine knows, by code."""

    items: list[HolidayCountry]


class HolidayCalendar(BaseModel):
    """A holiday calendar a user overlays on their schedules (null language: the default)."""

    country: str
    subdivision: str | None
    language: str | None


class CalendarHoliday(Holiday):
    """A holiday in a schedule window's overlay, with the calendar it comes from."""

    country: str
    subdivision: str | None
