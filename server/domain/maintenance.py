"""Retention: prune old events and idempotency records."""

from __future__ import annotations

import asyncio
import logging

from server.clock import now_ms
from server.domain.context import Services
from server.storage.events import prune_events
from server.storage.ops import prune_ops

log = logging.getLogger(__name__)


async def do_prune(services: Services) -> tuple[int, int]:
    """Delete events past EVENT_RETENTION and ops past OP_RETENTION; return both counts."""
    settings = services.settings
    now = now_ms()
    async with services.db.transaction() as tx:
        events = await prune_events(
            tx.conn, now - int(settings.event_retention.total_seconds() * 1000)
        )
        ops = await prune_ops(tx.conn, now - int(settings.op_retention.total_seconds() * 1000))
    return events, ops


async def run_pruner(services: Services) -> None:
    """Prune at start and then every PRUNE_INTERVAL_S."""
    while True:
        try:
            events, ops = await do_prune(services)
            if events or ops:
                log.info("pruned %d events and %d op replies", events, ops)
        except Exception:
            log.exception("pruning failed")
        await asyncio.sleep(services.settings.prune_interval_s)
