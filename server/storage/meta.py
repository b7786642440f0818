"""Server-wide values kept in the database (the event history's epoch)."""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from server.storage.tables import meta


async def get_or_create_epoch(conn: AsyncConnection) -> str:
    """Return the event history's epoch, creating it with the first server start."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    await conn.execute(
        dialect.insert(meta)
        .values(key="epoch", value=secrets.token_hex(8))
        .on_conflict_do_nothing(index_elements=[meta.c.key])
    )
    return str((await conn.execute(select(meta.c.value).where(meta.c.key == "epoch"))).scalar_one())
