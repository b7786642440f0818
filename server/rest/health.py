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


async def _database_problem(request: web.Request) -> str | None:
    """Run ``SELECT 1``; say what went wrong, or None when it answered."""
    try:
        async with asyncio.timeout(READY_TIMEOUT_S), request.app[STATE].services.db.read() as conn:
            await conn.execute(text("SELECT 1"))
    except TimeoutError:
        return f"no reply within {READY_TIMEOUT_S:g} s"
    except Exception as exc:
        return f"failed ({type(exc).__name__})"
    return None


async def _problems(request: web.Request) -> dict[str, str | None]:
    """Check each dependency: None when it is fine, else why not."""
    state = request.app[STATE]
    problems = {"database": await _database_problem(request)}
    if state.settings.fanout != "memory":
        problems["redis"] = state.hub.backend.problem()
    if state.shutting_down:
        problems["server"] = "shutting down"
    return problems


async def handle_ready(request: web.Request) -> web.Response:
    """Check the database and (when configured) Redis; 503 names what fails and why."""
    problems = await _problems(request)
    checks = {name: "ok" if why is None else "failing" for name, why in problems.items()}
    if "server" in checks:
        checks["server"] = "shutting down"
    reasons = {name: why for name, why in sorted(problems.items()) if why is not None}
    if not reasons:
        return web.json_response({"status": "ok", "checks": checks})
    failing = list(reasons)
    summary = "; ".join(f"{name}: {why}" for name, why in reasons.items())
    body = {
        "status": "unavailable",
        "checks": checks,
        "error": {
            "code": "unavailable",
            "message": f"failing: {summary}",
            "details": {"failing": failing, "reasons": reasons},
            "request_id": request[REQUEST_ID],
        },
    }
    return web.json_response(body, status=503)
