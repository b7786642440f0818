"""Todo rows: tree walks, filtered pages with ancestors, counts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, literal, select, union_all
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ColumnElement, Select

from server.storage.tables import tag_links, tags, todos
from server.storage.tag_links import having_all_tags

MAX_DEPTH = 100_000
STATUS_RANK = {"UNSCHEDULED": 0, "SCHEDULED": 1, "DONE": 2, "CANCELLED": 3}

# The list order (status rank, deadline with nulls last, newest first, id) is
# one string column, so a page is an index range on both databases and the
# keyset cursor is the last row's key. Fixed-width digits keep text order
# equal to numeric order; the offset keeps deadlines before 1970 positive.
_DEADLINE_OFFSET = 10**15
_NO_DEADLINE = 10**16 - 1
_NEWEST = 10**16 - 1


def sort_key(status: str, deadline: int | None, created_at: int, ident: str) -> str:
    """Return a todo's position in the list order."""
    due = _NO_DEADLINE if deadline is None else deadline + _DEADLINE_OFFSET
    return f"{STATUS_RANK[status]}{due:016d}{_NEWEST - created_at:016d}{ident}"


async def ancestor_ids(conn: AsyncConnection, todo_id: str) -> list[str]:
    """Return ``todo_id`` and its ancestors, nearest first, in one recursive query."""
    start = select(todos.c.id, todos.c.parent_id, literal(0).label("depth"))
    up = start.where(todos.c.id == todo_id).cte(recursive=True)
    # The depth bound only guards against a loop in corrupt data; trees never cycle.
    up = up.union_all(
        select(todos.c.id, todos.c.parent_id, up.c.depth + 1)
        .join(up, todos.c.id == up.c.parent_id)
        .where(up.c.depth < MAX_DEPTH)
    )
    return [row.id for row in await conn.execute(select(up.c.id).order_by(up.c.depth))]


async def child_ids(conn: AsyncConnection, todo_id: str) -> list[str]:
    """Return the ids of a todo's direct children."""
    stmt = select(todos.c.id).where(todos.c.parent_id == todo_id).order_by(todos.c.id)
    return [row.id for row in await conn.execute(stmt)]


async def rows_by_id(conn: AsyncConnection, ids: Sequence[str]) -> Sequence[RowMapping]:
    """Return the todo rows with these ids, in id order."""
    if not ids:
        return []
    stmt = select(todos).where(todos.c.id.in_(list(ids))).order_by(todos.c.id)
    return (await conn.execute(stmt)).mappings().all()


async def ids_in_group(conn: AsyncConnection, group_id: str) -> list[str]:
    """Return the ids of every todo in a group."""
    stmt = select(todos.c.id).where(todos.c.tag_group_id == group_id).order_by(todos.c.id)
    return [row.id for row in await conn.execute(stmt)]


async def group_has_todos(conn: AsyncConnection, group_id: str) -> bool:
    """Say whether any todo belongs to the group."""
    stmt = select(todos.c.id).where(todos.c.tag_group_id == group_id).limit(1)
    return (await conn.execute(stmt)).first() is not None


def _scope(owner_id: str, group_ids: Sequence[str] | None) -> list[ColumnElement[bool]]:
    clauses = [todos.c.owner_id == owner_id]
    if group_ids:
        clauses.append(todos.c.tag_group_id.in_(list(group_ids)))
    return clauses


def listing(
    owner_id: str, group_ids: Sequence[str] | None, tag_ids: Sequence[str] | None
) -> Select[Any]:
    """Select the todos a list shows, each with ``include_reason``, in list order.

    With tags, the matches' ancestors come along (one recursive query, not one per
    level); they share the group of their descendants, so the group filter holds.
    The shown ids are gathered first and joined by primary key, so the cost
    follows the answer's size, not the owner's whole list.
    """
    scope = _scope(owner_id, group_ids)
    if not tag_ids:
        return select(todos, literal("MATCH").label("include_reason")).where(*scope)
    # Driven from the tag index: the owner's other todos are never scanned.
    carriers = having_all_tags("todo", tag_ids).subquery("carriers")
    matched = (
        select(todos.c.id, todos.c.parent_id)
        .join(carriers, todos.c.id == carriers.c.resource_id)
        .where(*scope)
        .cte("matched")
    )
    up = (
        select(todos.c.id, todos.c.parent_id)
        .join(matched, todos.c.id == matched.c.parent_id)
        .cte("up", recursive=True)
    )
    up = up.union(select(todos.c.id, todos.c.parent_id).join(up, todos.c.id == up.c.parent_id))
    shown = union_all(
        select(matched.c.id, literal("MATCH").label("reason")),
        select(up.c.id, literal("ANCESTOR")).where(up.c.id.not_in(select(matched.c.id))),
    ).subquery("shown")
    return select(todos, shown.c.reason.label("include_reason")).join(
        shown, todos.c.id == shown.c.id
    )


async def list_page(
    conn: AsyncConnection,
    owner_id: str,
    *,
    group_ids: Sequence[str] | None,
    tag_ids: Sequence[str] | None,
    after: str | None,
    limit: int,
    levels: Sequence[str] | None = None,
) -> Sequence[RowMapping]:
    """Return up to ``limit`` rows of the listing after the keyset position ``after``.

    ``levels`` keeps only todos of those visibility levels (a viewer's pre-filter),
    ancestors included.
    """
    stmt = listing(owner_id, group_ids, tag_ids)
    if levels is not None:
        stmt = stmt.where(todos.c.visibility.in_(list(levels)))
    if after is not None:
        stmt = stmt.where(todos.c.sort_key > after)
    stmt = stmt.order_by(todos.c.sort_key).limit(limit)
    return (await conn.execute(stmt)).mappings().all()


async def count_by_status(
    conn: AsyncConnection, owner_id: str, group_id: str | None
) -> dict[str, int]:
    """Return how many of the owner's todos (of a group) are in each status."""
    scope = _scope(owner_id, None if group_id is None else [group_id])
    stmt = select(todos.c.status, func.count()).where(*scope).group_by(todos.c.status)
    return {status: int(n) for status, n in await conn.execute(stmt)}


async def count_by_tag(
    conn: AsyncConnection, owner_id: str, group_id: str | None
) -> list[tuple[str, str, int]]:
    """Return ``(tag_id, tag_name, count)`` for every tag counted todos carry or the scope owns."""
    counting = select(tag_links.c.tag_id, func.count().label("n")).where(
        tag_links.c.kind == "todo", tag_links.c.owner_id == owner_id
    )
    if group_id is not None:
        in_group = select(todos.c.id).where(*_scope(owner_id, [group_id]))
        counting = counting.where(tag_links.c.resource_id.in_(in_group))
    counted = counting.group_by(tag_links.c.tag_id).subquery()
    own = tags.c.owner_id == owner_id if group_id is None else tags.c.group_id == group_id
    n = func.coalesce(counted.c.n, 0)
    stmt = (
        select(tags.c.id, tags.c.name, n)
        .select_from(tags.outerjoin(counted, counted.c.tag_id == tags.c.id))
        .where(own | counted.c.n.is_not(None))
        .order_by(n.desc(), tags.c.name, tags.c.id)
    )
    return [(row[0], row[1], int(row[2])) for row in await conn.execute(stmt)]
