"""The running timers of other users a viewer may see (to seed its tick frames)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from server.clock import now_ms
from server.domain.context import Services
from server.domain.timers.logic import timer_change
from server.domain.visibility.access import access_to
from server.domain.visibility.policy import shared_view, visibility_view
from server.storage.timers import list_active_timers


async def visible_running_timers(
    services: Services, viewer_id: str, owners: Iterable[str]
) -> list[dict[str, Any]]:
    """Return the RUNNING timers of ``owners`` that ``viewer_id`` may see, as they see them."""
    now = now_ms()
    found = []
    async with services.db.read() as conn:
        for owner in owners:
            access = await access_to(conn, viewer_id, owner)
            for row in await list_active_timers(conn, owner):
                vis = visibility_view(row)
                if row["status"] == "RUNNING" and access.sees(vis):
                    found.append({**timer_change(row, now), "visibility": shared_view(vis)})
    return found
