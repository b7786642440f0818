"""Todo rows: tree walks, filtered pages with ancestors, counts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import case, func, literal, select, union
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ColumnElement, Select

from server.storage.tables import tag_links, tags, todos
from server.storage.tag_links import having_all_tags

MAX_DEPTH = 100_000
STATUS_RANK = {"UNSCHEDULED": 0, "SCHEDULED": 1, "DONE": 2, "CANCELLED": 3}

# The list order and its keyset: status rank, deadline (nulls last), newest first.
_RANK = case(STATUS_RANK, value=todos.c.status)
_NO_DEADLINE = case((todos.c.deadline.is_(None), 1), else_=0)
_DEADLINE = func.coalesce(todos.c.deadline, 0)
ORDER: list[tuple[ColumnElement[Any], bool]] = [
    (_RANK, True),
    (_NO_DEADLINE, True),
    (_DEADLINE, True),
    (todos.c.created_at, False),
    (todos.c.id, False),
]


def sort_key(row: RowMapping) -> list[Any]:
    """Return a row's position in the list order, as a cursor stores it."""
    deadline = row["deadline"]
    return [
        STATUS_RANK[row["status"]],
        1 if deadline is None else 0,
        deadline or 0,
        row["created_at"],
        row["id"],
    ]


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
    if group_ids is not None:
        clauses.append(todos.c.tag_group_id.in_(list(group_ids)))
    return clauses


def _after(position: Sequence[Any]) -> ColumnElement[bool]:
    """Build "comes after ``position`` in ORDER" as nested comparisons (mixed directions)."""
    clause: ColumnElement[bool] | None = None
    for (expr, ascending), value in reversed(list(zip(ORDER, position, strict=True))):
        beyond = expr > value if ascending else expr < value
        clause = beyond if clause is None else beyond | ((expr == value) & clause)
    assert clause is not None
    return clause


def listing(
    owner_id: str, group_ids: Sequence[str] | None, tag_ids: Sequence[str] | None
) -> Select[Any]:
    """Select the todos a list shows, each with ``include_reason``, in list order.

    With tags, the matches' ancestors come along (one recursive query, not one per
    level); they share the group of their descendants, so the group filter holds.
    """
    scope = _scope(owner_id, group_ids)
    if not tag_ids:
        return select(todos, literal("MATCH").label("include_reason")).where(*scope)
    matched = (
        select(todos.c.id, todos.c.parent_id)
        .where(*scope, todos.c.id.in_(having_all_tags("todo", tag_ids)))
        .cte("matched")
    )
    up = (
        select(todos.c.id, todos.c.parent_id)
        .join(matched, todos.c.id == matched.c.parent_id)
        .cte("up", recursive=True)
    )
    up = up.union(select(todos.c.id, todos.c.parent_id).join(up, todos.c.id == up.c.parent_id))
    reason = case((todos.c.id.in_(select(matched.c.id)), "MATCH"), else_="ANCESTOR")
    shown = union(select(matched.c.id), select(up.c.id))
    return select(todos, reason.label("include_reason")).where(todos.c.id.in_(shown))


async def list_page(
    conn: AsyncConnection,
    owner_id: str,
    *,
    group_ids: Sequence[str] | None,
    tag_ids: Sequence[str] | None,
    after: Sequence[Any] | None,
    limit: int,
) -> Sequence[RowMapping]:
    """Return up to ``limit`` rows of the listing after the keyset position ``after``."""
    stmt = listing(owner_id, group_ids, tag_ids)
    if after is not None:
        stmt = stmt.where(_after(after))
    stmt = stmt.order_by(*[expr.asc() if up else expr.desc() for expr, up in ORDER]).limit(limit)
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
    scope = _scope(owner_id, None if group_id is None else [group_id])
    counted = (
        select(tag_links.c.tag_id, func.count().label("n"))
        .where(
            tag_links.c.kind == "todo",
            tag_links.c.resource_id.in_(select(todos.c.id).where(*scope)),
        )
        .group_by(tag_links.c.tag_id)
        .subquery()
    )
    own = tags.c.owner_id == owner_id if group_id is None else tags.c.group_id == group_id
    n = func.coalesce(counted.c.n, 0)
    stmt = (
        select(tags.c.id, tags.c.name, n)
        .select_from(tags.outerjoin(counted, counted.c.tag_id == tags.c.id))
        .where(own | counted.c.n.is_not(None))
        .order_by(n.desc(), tags.c.name, tags.c.id)
    )
    return [(row[0], row[1], int(row[2])) for row in await conn.execute(stmt)]
