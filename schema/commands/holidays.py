"""Holiday commands: read-only, answered from the offline holiday engine."""

from __future__ import annotations

from typing import Literal

from schema.base import Command, Empty, empty
from schema.holidays import HolidayCountryList, HolidayList, HolidayListData


class HolidayListCommand(Command):
    """List a country's (or subdivision's) holidays for a year or a range of years."""

    result = HolidayList
    type: Literal["holiday.list"]
    data: HolidayListData


class HolidayCountriesCommand(Command):
    """List the countries with holidays, their subdivisions, languages and categories."""

    result = HolidayCountryList
    type: Literal["holiday.countries"]
    data: Empty = empty()


COMMANDS: tuple[type[Command], ...] = (HolidayListCommand, HolidayCountriesCommand)
