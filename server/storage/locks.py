"""Advisory locks that serialise the writers of one owner's data (PostgreSQL).

A key is 64 bits of a hash of ``<scope>:<id>``; two ids sharing a key only
serialise more than needed. Locks are transaction-scoped: they go with the
commit or the rollback, so nothing can leak them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

_LOCK = text("SELECT pg_advisory_xact_lock(:key)")


def lock_key(scope: str, ident: str) -> int:
    """Return the advisory lock key of ``ident`` in ``scope`` (a signed 64-bit integer)."""
    digest = hashlib.blake2b(f"{scope}:{ident}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def lock_set(scope: str, idents: Iterable[str]) -> set[int]:
    """Return the keys of ``idents`` in ``scope`` (empty ids name nobody)."""
    return {lock_key(scope, ident) for ident in idents if ident}


async def lock_keys(conn: AsyncConnection, keys: Iterable[int]) -> None:
    """Take the keys' locks for the rest of the transaction, smallest key first.

    One order for every transaction is what makes two writers that need the same
    keys queue instead of deadlocking. SQLite has one writer at a time and needs none.
    """
    if conn.dialect.name != "postgresql":
        return
    for key in sorted(keys):
        await conn.execute(_LOCK, {"key": key})
