"""REST query models (bulk reads allow larger pages than commands)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from schema.commands.timers import TimerListData

REST_MAX_PAGE = 5000


class TimerListQuery(TimerListData):
    """Query parameters of GET /v1/timers."""

    limit: Annotated[int, Field(ge=1, le=REST_MAX_PAGE)] = 500
