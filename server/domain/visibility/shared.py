"""Reading another user's resources: one row by id, a page, a view, all through ``can_view``.

A resource the viewer may not see answers exactly as a missing one does
(``not_found``), and what a non-owner receives never carries the allow-lists.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, bindparam, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from server.domain.visibility.access import Access, access_to
from server.domain.visibility.policy import shared_view, visibility_view
from server.errors import not_found, validation_error


@functools.cache
def _by_id(table: Table) -> Any:
    return select(table).where(table.c.id == bindparam("b_id"))


async def load_visible(
    conn: AsyncConnection, table: Table, kind: str, viewer_id: str, ident: str
) -> tuple[RowMapping, Access]:
    """Return the row ``ident`` and how the viewer stands to its owner.

    Raise ``not_found`` when there is no such row or when the viewer may not see
    it (a blocked pair sees nothing): the two are indistinguishable.
    """
    row = (await conn.execute(_by_id(table), {"b_id": ident})).mappings().first()
    if row is None:
        raise not_found(kind, ident)
    access = await access_to(conn, viewer_id, row["owner_id"])
    if not access.sees(visibility_view(row)):
        raise not_found(kind, ident)
    return row, access


def for_viewer(view: dict[str, Any], access: Access) -> dict[str, Any]:
    """Return a resource view as the viewer gets it: a non-owner sees the level only."""
    if access.own or "visibility" not in view:
        return view
    return {**view, "visibility": shared_view(view["visibility"])}


def visible_rows(rows: Sequence[RowMapping], access: Access) -> Sequence[RowMapping]:
    """Keep the rows the viewer may see (all of them for the owner).

    A page's SQL pre-filter (``visibility IN access.levels``) cannot decide the
    ``selected`` and ``allowed_emails`` levels, whose allow-lists are JSON: the
    predicate decides here, so a page may end up shorter than it was scanned.
    """
    if access.own:
        return rows
    return [row for row in rows if access.sees(visibility_view(row))]


def refuse_private_filters(access: Access, **filters: Any) -> None:
    """Refuse filters naming the owner's private ids (tags, groups) on another user's list."""
    if access.own:
        return
    for name, value in filters.items():
        if value:
            raise validation_error(
                f"{name} filters only the caller's own list, not another user's", field=name
            )


async def list_access(conn: AsyncConnection, viewer_id: str, owner_id: str | None) -> Access:
    """Return how the viewer stands to the owner of a list (the viewer's own without one)."""
    return await access_to(conn, viewer_id, viewer_id if owner_id is None else owner_id)
