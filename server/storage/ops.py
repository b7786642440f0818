"""The idempotency store: (user, op_id) -> the first reply."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from server.storage.tables import op_replies


async def claim_op(conn: AsyncConnection, user_id: str, op_id: str, command: str, now: int) -> bool:
    """Reserve ``op_id`` for this transaction; False when it was already used.

    On PostgreSQL a concurrent claim of the same op waits for this transaction,
    then finds the row, so two racing repeats never both apply.
    """
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = (
        dialect.insert(op_replies)
        .values(user_id=user_id, op_id=op_id, command=command, created_at=now)
        .on_conflict_do_nothing(index_elements=[op_replies.c.user_id, op_replies.c.op_id])
    )
    return bool((await conn.execute(stmt)).rowcount)


async def store_op_reply(conn: AsyncConnection, user_id: str, op_id: str, reply: Any) -> None:
    """Record the reply of the op claimed in this transaction."""
    await conn.execute(
        update(op_replies)
        .where(op_replies.c.user_id == user_id, op_replies.c.op_id == op_id)
        .values(reply=orjson.dumps(reply).decode())
    )


async def get_op_reply(conn: AsyncConnection, user_id: str, op_id: str) -> tuple[str, Any] | None:
    """Return ``(command, reply)`` stored for the op, or None."""
    stmt = select(op_replies.c.command, op_replies.c.reply).where(
        op_replies.c.user_id == user_id, op_replies.c.op_id == op_id
    )
    row = (await conn.execute(stmt)).first()
    if row is None or row.reply is None:
        return None
    return row.command, orjson.loads(row.reply)


async def prune_ops(conn: AsyncConnection, before_ms: int) -> int:
    """Forget ops older than ``before_ms``."""
    result = await conn.execute(delete(op_replies).where(op_replies.c.created_at < before_ms))
    return int(result.rowcount or 0)
