"""Todo commands."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from schema.base import (
    Command,
    Description,
    IdData,
    IdVersionData,
    Instant,
    PartialUpdate,
    Strict,
    Uuid,
    Version,
)
from schema.commands.tags import TagIds
from schema.commands.visibility import UserId
from schema.resources import Todo, TodoDeleted, TodoList, TodoStats, TodoStatus

# Surrounding blanks are dropped; a title of blanks only is refused.
TodoTitle = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
MAX_FILTER_GROUPS = 100
COMMAND_MAX_PAGE = 1000


class TodoCreateData(Strict):
    """A new todo, a root or the child of a todo of the same group."""

    title: TodoTitle
    description: Description = ""
    tag_group_id: Uuid
    parent_id: Uuid | None = None
    deadline: Instant | None = None
    status: TodoStatus = "UNSCHEDULED"
    tag_ids: TagIds = Field(default_factory=list)


class TodoUpdateData(PartialUpdate):
    """Todo fields to change; null clears ``parent_id`` (a root) and ``deadline``."""

    not_nullable = frozenset({"title", "description", "tag_group_id", "status", "tag_ids"})

    id: Uuid
    if_version: Version | None = None
    title: TodoTitle | None = None
    description: Description | None = None
    tag_group_id: Uuid | None = None
    parent_id: Uuid | None = None
    deadline: Instant | None = None
    status: TodoStatus | None = None
    tag_ids: TagIds | None = None


class TodoListData(Strict):
    """Filters and paging for todo.list: groups (any), tags (all), ancestors of matches."""

    group_ids: Annotated[list[Uuid], Field(max_length=MAX_FILTER_GROUPS)] | None = None
    tag_ids: TagIds | None = None
    limit: Annotated[int, Field(ge=1, le=COMMAND_MAX_PAGE)] = 500
    cursor: Annotated[str, Field(max_length=300)] | None = None
    # Another user's todos, as far as they let the caller see (no group or tag
    # filter then: those are the owner's private ids); absent: the caller's.
    owner_id: UserId | None = None


class TodoStatsData(Strict):
    """Which todos to count."""

    group_id: Uuid | None = None


class TodoCreate(Command):
    """Create a todo."""

    mutating = True
    result = Todo
    type: Literal["todo.create"]
    data: TodoCreateData


class TodoUpdate(Command):
    """Change a todo: fields, parent, group, deadline, status, tags."""

    mutating = True
    result = Todo
    type: Literal["todo.update"]
    data: TodoUpdateData


class TodoDelete(Command):
    """Delete a todo, promoting its children to roots and unlinking its timers."""

    mutating = True
    result = TodoDeleted
    type: Literal["todo.delete"]
    data: IdVersionData


class TodoGet(Command):
    """Read one todo."""

    result = Todo
    type: Literal["todo.get"]
    data: IdData


class TodoListCommand(Command):
    """List todos by status rank, deadline (nulls last), newest first."""

    result = TodoList
    type: Literal["todo.list"]
    data: TodoListData = Field(default_factory=TodoListData)


class TodoStatsCommand(Command):
    """Count todos, by status and by tag."""

    result = TodoStats
    type: Literal["todo.stats"]
    data: TodoStatsData = Field(default_factory=TodoStatsData)


COMMANDS: tuple[type[Command], ...] = (
    TodoCreate,
    TodoUpdate,
    TodoDelete,
    TodoGet,
    TodoListCommand,
    TodoStatsCommand,
)
