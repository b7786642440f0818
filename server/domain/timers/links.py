"""Checks of the resources a timer links to: schedules, todos, tags."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from server.errors import not_found


async def require_links(
    conn: AsyncConnection,
    owner_id: str,
    *,
    schedule_id: str | None,
    todo_id: str | None,
    tag_ids: list[str],
) -> None:
    """Refuse links to resources the owner does not have.

    Schedules, todos and tags arrive with their own domains; until a domain
    stores its resources, no id of it can belong to the owner, so any id given
    is answered with not_found, as a reference to another user's resource is.
    """
    if schedule_id is not None:
        raise not_found("schedule", schedule_id)
    if todo_id is not None:
        raise not_found("todo", todo_id)
    if tag_ids:
        raise not_found("tag", tag_ids[0])
