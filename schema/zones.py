"""IANA time zone validation shared by every payload that names a zone."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator


def check_zone(name: str) -> str:
    """Return ``name`` when it is a known IANA zone, else raise ValueError."""
    if not name or len(name) > 64 or name.startswith(("/", ".")) or ".." in name:
        raise ValueError(f"unknown time zone {name!r}")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc
    return name


# An IANA zone name, checked against the bundled zone data.
Zone = Annotated[str, AfterValidator(check_zone)]
