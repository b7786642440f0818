"""IANA time zone validation shared by every payload that names a zone."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field
from pydantic.json_schema import JsonDict


def check_zone(name: str) -> str:
    """Return ``name`` when it is a known IANA zone, else raise ValueError."""
    if not name or len(name) > 64 or name.startswith(("/", ".")) or ".." in name:
        raise ValueError(f"unknown time zone {name!r}")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc
    return name


# What a schema can say of a zone name; the bundled zone data decides the rest.
ZONE_SCHEMA: JsonDict = {
    "minLength": 1,
    "maxLength": 64,
    "examples": ["Europe/Paris", "America/New_York"],
}
# An IANA zone name, checked against the bundled zone data.
Zone = Annotated[str, Field(json_schema_extra=ZONE_SCHEMA), AfterValidator(check_zone)]
