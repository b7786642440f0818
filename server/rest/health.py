"""Health endpoints."""

from __future__ import annotations

import asyncio

from aiohttp import web
from sqlalchemy import text

from server.rest.middleware import REQUEST_ID
from server.state import STATE

READY_TIMEOUT_S = 2.0


async def handle_health(request: web.Request) -> web.Response:
    """Answer that the process serves requests."""
    return web.json_response({"status": "ok"})


async def handle_live(request: web.Request) -> web.Response:
    """Answer that the process is alive (no dependency is checked)."""
    return web.json_response({"status": "ok"})


async def _database_ok(request: web.Request) -> bool:
    try:
        async with asyncio.timeout(READY_TIMEOUT_S), request.app[STATE].services.db.read() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception:
        return False
    return True


async def handle_ready(request: web.Request) -> web.Response:
    """Check the database and (when configured) Redis; 503 names what fails."""
    state = request.app[STATE]
    checks = {"database": "ok" if await _database_ok(request) else "failing"}
    if state.settings.redis_url:
        checks["redis"] = "ok" if state.hub.backend.healthy() else "failing"
    if state.shutting_down:
        checks["server"] = "shutting down"
    failing = sorted(name for name, value in checks.items() if value != "ok")
    if failing:
        body = {
            "status": "unavailable",
            "checks": checks,
            "error": {
                "code": "unavailable",
                "message": f"failing: {', '.join(failing)}",
                "details": {"failing": failing},
                "request_id": request[REQUEST_ID],
            },
        }
        return web.json_response(body, status=503)
    return web.json_response({"status": "ok", "checks": checks})
