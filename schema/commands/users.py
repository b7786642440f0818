"""User profile commands."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import StringConstraints, field_validator

from schema.base import Command, Empty, PartialUpdate, Version, empty
from schema.holidays import HolidayCalendarSpecs
from schema.resources import User
from schema.zones import check_zone


class UserMe(Command):
    """Read the caller's own profile."""

    result = User
    type: Literal["user.me"]
    data: Empty = empty()


class UserUpdateData(PartialUpdate):
    """The profile fields to change; absent fields are untouched."""

    not_nullable = frozenset({"display_name", "timezone", "holiday_calendars"})

    display_name: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = None
    timezone: str | None = None
    # The whole list, replacing the stored one ([] clears it).
    holiday_calendars: HolidayCalendarSpecs | None = None
    if_version: Version | None = None

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return None if value is None else check_zone(value)


class UserUpdate(Command):
    """Change the caller's display name, time zone or holiday calendars."""

    mutating = True
    result = User
    type: Literal["user.update"]
    data: UserUpdateData


COMMANDS: tuple[type[Command], ...] = (UserMe, UserUpdate)
