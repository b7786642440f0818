"""The account archive: a zip of one JSON Lines file per resource type, then manifest.json.

Each file is read in keyset batches (one short query each, as the timer
export) and compressed as it goes; the manifest comes last because it holds
every file's row count and SHA-256. See docs/exports.md.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from server.clock import iso_ms, now_ms
from server.domain.context import Services
from server.domain.exports.archive import ZipStream
from server.domain.exports.resources import RESOURCES, Exported
from server.storage.exports import keyset_page, read_mappings
from server.storage.uncut import run_uncut

FORMAT = "hipster-timer.account"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
# Rows per query: ~500 timer views, JSON and deflate are a few ms between two
# turns of the event loop.
BATCH = 500
_NL = orjson.OPT_APPEND_NEWLINE


async def account_chunks(
    services: Services, user_id: str, now: int, resources: Sequence[Exported] = RESOURCES
) -> AsyncGenerator[bytes, None]:
    """Yield the archive of everything ``user_id`` owns, as it is written."""
    archive = ZipStream(datetime.fromtimestamp(now / 1000, UTC))
    try:
        files = []
        for resource in resources:
            entry = archive.open(f"{resource.name}.jsonl")
            async for data, count in _lines(services, user_id, resource):
                entry.write(data, count)
                chunk = archive.take()
                if chunk:  # deflate keeps small inputs until it has a block's worth
                    yield chunk
                await asyncio.sleep(0)  # a write need not wait: let other requests in
            files.append({**entry.close(), "resource": resource.name})
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "user_id": user_id,
            "generated_at": iso_ms(now),
            "files": files,
        }
        entry = archive.open(MANIFEST)
        entry.write(orjson.dumps(manifest, option=orjson.OPT_INDENT_2), 0)
        entry.close()
        yield archive.close()
    finally:
        # A reader that went away leaves an entry open: zipfile would complain at exit.
        archive.abandon()


async def _lines(
    services: Services, user_id: str, resource: Exported
) -> AsyncIterator[tuple[bytes, int]]:
    """Yield the resource's JSON Lines a batch at a time, with each batch's row count."""
    table = resource.table
    stmt = table.select().where(resource.owned(user_id))
    key = [table.c[name] for name in resource.key]
    after: Sequence[Any] | None = None
    while True:
        page = keyset_page(stmt, key, after, BATCH)
        rows, views = await run_uncut(_read_page(services, user_id, resource, page))
        if views:
            yield b"".join(orjson.dumps(v, option=_NL) for v in views), len(views)
        if len(rows) < BATCH:
            return
        after = [rows[-1][name] for name in resource.key]


async def _read_page(
    services: Services, user_id: str, resource: Exported, page: Any
) -> tuple[Sequence[Any], list[Any]]:
    """Read one batch of a resource's rows, and their views."""
    async with services.db.read() as conn:
        rows = await read_mappings(conn, page)
        return rows, await resource.views(conn, user_id, rows, now_ms())
