"""The idempotency store: (user, op_id) -> the first reply."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from server.storage.rows import write_count
from server.storage.tables import op_replies

# The op store's key: a statement that inserts a taken op fails on it.
OP_KEY = "pk_op_replies"


class OpAlreadyAppliedError(Exception):
    """The op_id was applied by an earlier (possibly concurrent) command."""


@dataclass(frozen=True)
class OpRecord:
    """A mutation's reply, stored under its op_id with the change."""

    user_id: str
    op_id: str
    command: str
    reply: Any
    at: int

    def params(self) -> dict[str, Any]:
        """Return the row's values."""
        return {
            "user_id": self.user_id,
            "op_id": self.op_id,
            "command": self.command,
            "created_at": self.at,
            "reply": orjson.dumps(self.reply).decode(),
        }


def is_op_taken(exc: BaseException) -> bool:
    """Tell whether a database error is the op store's key refusing a repeated op
    (asyncpg's own error, or SQLAlchemy's wrapping of it)."""
    cause = getattr(getattr(exc, "orig", None), "__cause__", None) or exc
    return getattr(cause, "constraint_name", None) == OP_KEY


@functools.cache
def _record_statement(dialect_name: str) -> Any:
    """Build once per dialect: every mutation with an op_id runs it (on SQLite as a
    statement of its own), and building it anew cost more than running it."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    return dialect.insert(op_replies).on_conflict_do_nothing(
        index_elements=[op_replies.c.user_id, op_replies.c.op_id]
    )


async def record_op(conn: AsyncConnection, op: OpRecord) -> bool:
    """Store the op's reply in this transaction; False when the op was already applied.

    On PostgreSQL a concurrent insert of the same key waits for the other
    transaction, then finds its row, so two racing repeats never both commit.
    """
    return bool(await write_count(conn, _record_statement(conn.dialect.name), op.params()))


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
