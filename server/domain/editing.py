"""Loading and writing one owned row inside a mutation: the version check, the bump."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from schema.errors import ErrorCode
from server.domain.context import Mutation
from server.errors import ApiError, not_found
from server.storage.rows import get_owned, owned_ids, update_row


async def require_owned(
    conn: AsyncConnection,
    table: Table,
    kind: str,
    owner_id: str,
    ident: str,
    *,
    for_update: bool = False,
) -> RowMapping:
    """Return the owner's row; a missing one, or another user's, is not_found."""
    row = await get_owned(conn, table, owner_id, ident, for_update=for_update)
    if row is None:
        raise not_found(kind, ident)
    return row


async def require_all_owned(
    conn: AsyncConnection, table: Table, kind: str, owner_id: str, idents: Sequence[str]
) -> None:
    """Refuse ids that are not all the owner's rows (the first missing one is not_found)."""
    mine = await owned_ids(conn, table, owner_id, idents)
    for ident in idents:
        if ident not in mine:
            raise not_found(kind, ident)


async def load_owned(
    m: Mutation, table: Table, kind: str, ident: str, if_version: int | None = None
) -> RowMapping:
    """Lock and return the actor's row, or raise not_found; a stale ``if_version`` is conflict."""
    row = await require_owned(m.conn, table, kind, m.actor.user_id, ident, for_update=True)
    if if_version is not None and row["version"] != if_version:
        raise ApiError(
            ErrorCode.CONFLICT, f"the {kind} was changed meanwhile", {"version": row["version"]}
        )
    return row


async def write_row(
    m: Mutation, table: Table, row: Mapping[Any, Any], changes: Mapping[str, Any]
) -> dict[str, Any]:
    """Write ``changes`` to the row, bump its version and return the row as it now is."""
    values = {**changes, "updated_at": m.now}
    await update_row(m.conn, table, row["id"], values)
    return {**row, **values, "version": row["version"] + 1}
