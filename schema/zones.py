"""IANA time zone validation shared by every payload that names a zone."""

from __future__ import annotations

import functools
from typing import Annotated
from zoneinfo import available_timezones

from pydantic import AfterValidator, Field
from pydantic.json_schema import JsonDict

# Names the zone database ships that are not zones: the host's own clock ("localtime",
# which differs between machines) and two artefacts.
NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})


@functools.cache
def known_zones() -> frozenset[str]:
    """Return every IANA zone name the bundled zone data knows."""
    return frozenset(available_timezones()) - NOT_ZONES


def check_zone(name: str) -> str:
    """Return ``name`` when it is a known IANA zone, else raise ValueError.

    A set lookup, not ``ZoneInfo(name)``: that opens files, and a folder such as
    "America" raises IsADirectoryError instead of saying the name is no zone.
    """
    if name not in known_zones():
        raise ValueError(f"unknown time zone {name!r}")
    return name


# What a schema can say of a zone name; the bundled zone data decides the rest.
ZONE_SCHEMA: JsonDict = {
    "minLength": 1,
    "maxLength": 64,
    "examples": ["Europe/Paris", "America/New_York"],
}
# An IANA zone name, checked against the bundled zone data.
Zone = Annotated[str, Field(json_schema_extra=ZONE_SCHEMA), AfterValidator(check_zone)]
