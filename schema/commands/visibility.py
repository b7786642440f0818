"""Visibility commands: who besides the owner sees a timer, todo or schedule."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, StringConstraints, model_validator

from schema.base import Command, Strict, Version
from schema.resources import VisibilityLevel

# Allow-list bounds: generous for people, early for a runaway client.
MAX_ALLOWED_USERS = 500
MAX_ALLOWED_EMAILS = 200

ShareableType = Literal["timer", "todo", "schedule", "meeting"]
UserId = Annotated[str, StringConstraints(min_length=1, max_length=255)]


def _email(value: str) -> str:
    value = value.strip().lower()
    local, at, domain = value.partition("@")
    if not (local and at and _is_domain(domain)) or " " in value:
        raise ValueError(f"{value!r} is not an email address")
    return value


def _domain(value: str) -> str:
    value = value.strip().lower().removeprefix("@")
    if not _is_domain(value):
        raise ValueError(f"{value!r} is not a domain name")
    return value


def _is_domain(value: str) -> bool:
    labels = value.split(".")
    return len(labels) >= 2 and all(
        0 < len(label) <= 63 and label.replace("-", "").isalnum() for label in labels
    )


def _distinct(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


Email = Annotated[str, StringConstraints(max_length=320), AfterValidator(_email)]
Domain = Annotated[str, StringConstraints(max_length=253), AfterValidator(_domain)]


class ResourceRef(Strict):
    """A shareable resource of the caller (a schedule by its series id)."""

    resource_type: ShareableType
    # Any spelling of a UUID (lower-cased here); an occurrence id is refused with a
    # message saying visibility is set on the series.
    resource_id: Annotated[str, StringConstraints(min_length=1, max_length=64, to_lower=True)]


class VisibilitySetData(ResourceRef):
    """The new level; each allow-list comes with its level and only with it."""

    level: VisibilityLevel
    allowed_user_ids: (
        Annotated[list[UserId], Field(max_length=MAX_ALLOWED_USERS), AfterValidator(_distinct)]
        | None
    ) = None
    allowed_emails: (
        Annotated[list[Email], Field(max_length=MAX_ALLOWED_EMAILS), AfterValidator(_distinct)]
        | None
    ) = None
    allowed_domains: (
        Annotated[list[Domain], Field(max_length=MAX_ALLOWED_EMAILS), AfterValidator(_distinct)]
        | None
    ) = None
    if_version: Version | None = None

    @model_validator(mode="after")
    def _lists_match_level(self) -> VisibilitySetData:
        users = self.allowed_user_ids
        emails, domains = self.allowed_emails, self.allowed_domains
        if self.level == "selected":
            if not users:
                raise ValueError("level selected needs a non-empty allowed_user_ids")
        elif users is not None:
            raise ValueError("allowed_user_ids goes with level selected only")
        if self.level == "allowed_emails":
            if not (emails or domains):
                raise ValueError("level allowed_emails needs allowed_emails or allowed_domains")
        elif emails is not None or domains is not None:
            raise ValueError("allowed_emails and allowed_domains go with level allowed_emails only")
        return self


class VisibilityRecord(BaseModel):
    """A resource's visibility as its owner sees it, with the resource's version."""

    resource_type: ShareableType
    resource_id: str
    level: VisibilityLevel
    allowed_user_ids: list[str] | None = None
    allowed_emails: list[str] | None = None
    allowed_domains: list[str] | None = None
    version: int


class VisibilitySet(Command):
    """Set who sees one of the caller's resources."""

    mutating = True
    result = VisibilityRecord
    type: Literal["visibility.set"]
    data: VisibilitySetData


class VisibilityGet(Command):
    """Read the visibility of one of the caller's resources."""

    result = VisibilityRecord
    type: Literal["visibility.get"]
    data: ResourceRef


COMMANDS: tuple[type[Command], ...] = (VisibilitySet, VisibilityGet)
