"""Holiday command handlers: read-only, no events."""

from __future__ import annotations

from typing import Any

from schema.commands.holidays import HolidayCountriesCommand, HolidayListCommand
from server.domain.context import Caller
from server.domain.holidays import reads
from server.domain.registry import CommandRegistry


async def handle_list(caller: Caller, cmd: HolidayListCommand) -> Any:
    """List a calendar's holidays over a range of years."""
    return reads.list_holiday_views(caller.services.holidays, cmd.data)


async def handle_countries(caller: Caller, cmd: HolidayCountriesCommand) -> Any:
    """List the countries with holidays."""
    return reads.country_views(caller.services.holidays)


def register(registry: CommandRegistry) -> None:
    """Register the holiday commands."""
    registry.add(HolidayListCommand, handle_list)
    registry.add(HolidayCountriesCommand, handle_countries)
