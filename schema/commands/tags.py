"""Tag group and tag commands."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints, field_validator

from schema.base import (
    Command,
    Description,
    Empty,
    IdData,
    IdVersionData,
    PartialUpdate,
    Strict,
    Uuid,
    Version,
    empty,
)
from schema.resources import (
    Tag,
    TagDeleted,
    TagGroup,
    TagGroupDeleted,
    TagGroupList,
    TagList,
)

# Bounds a demanding user never reaches and a runaway client hits early.
MAX_GROUPS_PER_USER = 500
MAX_TAGS_PER_GROUP = 200
DEFAULT_COLOR = "#808080"
MAX_TAGS = 50


def _distinct(ids: list[str]) -> list[str]:
    if len(set(ids)) != len(ids):
        raise ValueError("tag_ids must not repeat")
    return ids


# The tags of a timer, todo or schedule: distinct ids, in the order the client gave.
TagIds = Annotated[
    list[Uuid],
    Field(max_length=MAX_TAGS, json_schema_extra={"uniqueItems": True}),
    AfterValidator(_distinct),
]

Color = Annotated[
    str,
    StringConstraints(pattern=r"^#(?:[0-9A-Fa-f]{3}|[0-9A-Fa-f]{6})$"),
    AfterValidator(str.upper),
]
# Surrounding blanks are dropped; a name of blanks only is refused.
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Ratio = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
GoalRatios = Annotated[dict[Uuid, Ratio], Field(max_length=MAX_TAGS_PER_GROUP)]


def _sum_at_most_one(ratios: dict[str, float] | None) -> dict[str, float] | None:
    # 1e-9 absorbs the float error of shares like 0.1 + 0.2 + 0.7.
    if ratios is not None and sum(ratios.values()) > 1 + 1e-9:
        raise ValueError("goal_ratios must sum to at most 1")
    return ratios


class TagGroupCreateData(Strict):
    """A new tag group."""

    name: Name
    color: Color = DEFAULT_COLOR
    description: Description = ""
    goal_ratios: GoalRatios = Field(default_factory=dict)

    _ratios = field_validator("goal_ratios")(_sum_at_most_one)


class TagGroupUpdateData(PartialUpdate):
    """Tag group fields to change; absent fields are untouched."""

    not_nullable = frozenset({"name", "color", "description", "goal_ratios"})

    id: Uuid
    if_version: Version | None = None
    name: Name | None = None
    color: Color | None = None
    description: Description | None = None
    goal_ratios: GoalRatios | None = None

    _ratios = field_validator("goal_ratios")(_sum_at_most_one)


class TagCreateData(Strict):
    """A new tag in one of the caller's groups."""

    group_id: Uuid
    name: Name
    color: Color = DEFAULT_COLOR
    description: Description = ""


class TagUpdateData(PartialUpdate):
    """Tag fields to change; ``group_id`` moves the tag to another group."""

    not_nullable = frozenset({"name", "color", "description", "group_id"})

    id: Uuid
    if_version: Version | None = None
    group_id: Uuid | None = None
    name: Name | None = None
    color: Color | None = None
    description: Description | None = None


class TagListData(Strict):
    """Which tags to list."""

    group_id: Uuid | None = None


class TagGroupCreate(Command):
    """Create a tag group."""

    mutating = True
    result = TagGroup
    type: Literal["tag_group.create"]
    data: TagGroupCreateData


class TagGroupUpdate(Command):
    """Change a tag group."""

    mutating = True
    result = TagGroup
    type: Literal["tag_group.update"]
    data: TagGroupUpdateData


class TagGroupDelete(Command):
    """Delete a tag group with its tags and todos."""

    mutating = True
    result = TagGroupDeleted
    type: Literal["tag_group.delete"]
    data: IdVersionData


class TagGroupGet(Command):
    """Read one tag group with its tags."""

    result = TagGroup
    type: Literal["tag_group.get"]
    data: IdData


class TagGroupListCommand(Command):
    """List the caller's tag groups with their tags."""

    result = TagGroupList
    type: Literal["tag_group.list"]
    data: Empty = empty()


class TagCreate(Command):
    """Create a tag."""

    mutating = True
    result = Tag
    type: Literal["tag.create"]
    data: TagCreateData


class TagUpdate(Command):
    """Change or move a tag."""

    mutating = True
    result = Tag
    type: Literal["tag.update"]
    data: TagUpdateData


class TagDelete(Command):
    """Delete a tag and its links (and its group, when it was the last and nothing needs it)."""

    mutating = True
    result = TagDeleted
    type: Literal["tag.delete"]
    data: IdVersionData


class TagGet(Command):
    """Read one tag."""

    result = Tag
    type: Literal["tag.get"]
    data: IdData


class TagListCommand(Command):
    """List the caller's tags, optionally of one group."""

    result = TagList
    type: Literal["tag.list"]
    data: TagListData = Field(default_factory=TagListData)


COMMANDS: tuple[type[Command], ...] = (
    TagGroupCreate,
    TagGroupUpdate,
    TagGroupDelete,
    TagGroupGet,
    TagGroupListCommand,
    TagCreate,
    TagUpdate,
    TagDelete,
    TagGet,
    TagListCommand,
)
