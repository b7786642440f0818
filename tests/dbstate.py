"""Whole-database snapshots: a failed command must leave every table as it was."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from server.state import STATE
from server.storage.tables import metadata
from tests.wsclient import Device, new_op

# Idempotency claims of failed commands are rolled back too, so every table counts.
TABLES = [t for t in metadata.sorted_tables if t.name != "meta"]


async def snapshot(client: TestClient[Any, Any]) -> dict[str, list[tuple[Any, ...]]]:
    """Return every row of every table, sorted, keyed by table name."""
    state: dict[str, list[tuple[Any, ...]]] = {}
    async with client.server.app[STATE].services.db.read() as conn:
        for table in TABLES:
            rows = (await conn.execute(select(table))).all()
            state[table.name] = sorted((tuple(r) for r in rows), key=repr)
    return state


async def refused(
    client: TestClient[Any, Any], dev: Device, command: str, data: Any, code: str
) -> dict[str, Any]:
    """Send a command (with an op_id) that must fail with ``code`` and change nothing at all."""
    before = await snapshot(client)
    error = await dev.error(command, data, op_id=new_op())
    assert error["code"] == code, error
    assert await snapshot(client) == before
    return error
