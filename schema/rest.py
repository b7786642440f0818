"""REST query models (bulk reads allow larger pages than commands)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator

from schema.commands.timers import TimerListData
from schema.commands.todos import TodoListData

REST_MAX_PAGE = 5000


class TimerListQuery(TimerListData):
    """Query parameters of GET /v1/timers."""

    limit: Annotated[int, Field(ge=1, le=REST_MAX_PAGE)] = 500


class TodoListQuery(TodoListData):
    """Query parameters of GET /v1/todos: ``group_ids`` and ``tag_ids`` comma-separated."""

    limit: Annotated[int, Field(ge=1, le=REST_MAX_PAGE)] = 1000

    @field_validator("group_ids", "tag_ids", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        return [part for part in value.split(",") if part] if isinstance(value, str) else value
