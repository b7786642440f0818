"""Base models shared by every frame and payload."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, ClassVar, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)
from pydantic.json_schema import JsonDict

# The integers every client language holds exactly (JavaScript's safe range).
MAX_SAFE_INT = 2**53 - 1
# Versions are stored as 32-bit integers.
MAX_VERSION = 2**31 - 1

CommandId = (
    Annotated[int, Field(ge=-MAX_SAFE_INT, le=MAX_SAFE_INT)]
    | Annotated[str, StringConstraints(min_length=1, max_length=64)]
)
# Any spelling of a UUID is accepted and stored in its canonical lower-case form.
Uuid = Annotated[
    str,
    StringConstraints(
        pattern=r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"
    ),
    AfterValidator(lambda value: str(uuid.UUID(value))),
]
Title = Annotated[str, StringConstraints(max_length=200)]
Description = Annotated[str, StringConstraints(max_length=10_000)]
Topic = Annotated[str, StringConstraints(min_length=3, max_length=300)]
Version = Annotated[int, Field(ge=1, le=MAX_VERSION)]
# A topic cursor: the seq of the last event a client has (0: none yet).
Seq = Annotated[int, Field(ge=0, le=MAX_SAFE_INT)]


def _has_offset(value: str) -> str:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("must be an RFC 3339 instant") from None
    if parsed.tzinfo is None:
        raise ValueError("must be an RFC 3339 instant with an offset")
    return value


# An RFC 3339 date-time: the one format the wire names for an instant with an offset.
INSTANT_FORMAT: JsonDict = {"format": "date-time"}
# An RFC 3339 instant with an offset ("2026-03-08T09:00:00-05:00"), kept as given.
Instant = Annotated[
    str,
    StringConstraints(max_length=40),
    Field(json_schema_extra=INSTANT_FORMAT),
    AfterValidator(_has_offset),
]


class Strict(BaseModel):
    """A model that refuses unknown fields."""

    model_config = ConfigDict(extra="forbid")


class Empty(Strict):
    """A payload with no fields."""


# Each command class's name, read once from its ``type`` Literal.
_COMMAND_NAMES: dict[type, str] = {}


class Command(Strict):
    """A client command frame: id, type, optional op_id, data.

    Subclasses fix ``type`` with a Literal and ``data`` with their payload model;
    ``mutating`` says whether the command may carry an op_id and changes state;
    ``guest`` whether a meeting guest's connection may send it.
    """

    mutating: ClassVar[bool] = False
    guest: ClassVar[bool] = False
    result: ClassVar[type[BaseModel] | None] = None

    id: CommandId
    type: str
    op_id: Uuid | None = None
    data: Any = None

    @classmethod
    def command_name(cls) -> str:
        """Return the command's name, taken from its ``type`` Literal."""
        name = _COMMAND_NAMES.get(cls)
        if name is None:
            args = get_args(cls.model_fields["type"].annotation)
            if len(args) != 1 or not isinstance(args[0], str):
                raise TypeError(f"{cls.__name__}.type must be a single-string Literal")
            name = _COMMAND_NAMES[cls] = str(args[0])
        return name


class IdData(Strict):
    """A resource id."""

    id: Uuid


class IdVersionData(IdData):
    """A resource id and an optional expected version."""

    if_version: Version | None = None


def empty() -> Any:
    """Give commands whose payload may be omitted an empty default."""
    return Field(default_factory=Empty)


class PartialUpdate(Strict):
    """An update payload: absent fields are untouched, null clears a nullable field.

    ``not_nullable`` names the fields for which null is refused instead of ignored.
    """

    not_nullable: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _refuse_null_for_required(self) -> PartialUpdate:
        for name in self.not_nullable & self.model_fields_set:
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self

    def changes(self, *exclude: str) -> dict[str, Any]:
        """Return the fields the client sent, minus ``exclude``."""
        return {k: getattr(self, k) for k in self.model_fields_set if k not in exclude}
