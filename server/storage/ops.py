"""The idempotency store: (user, op_id) -> the first reply."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from server.storage.tables import op_replies


async def record_op(
    conn: AsyncConnection, user_id: str, op_id: str, command: str, reply: Any, now: int
) -> bool:
    """Store the reply of ``op_id`` in this transaction; False when the op was already applied.

    On PostgreSQL a concurrent insert of the same key waits for the other
    transaction, then finds its row, so two racing repeats never both commit.
    """
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = (
        dialect.insert(op_replies)
        .values(
            user_id=user_id,
            op_id=op_id,
            command=command,
            created_at=now,
            reply=orjson.dumps(reply).decode(),
        )
        .on_conflict_do_nothing(index_elements=[op_replies.c.user_id, op_replies.c.op_id])
    )
    return bool((await conn.execute(stmt)).rowcount)


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
