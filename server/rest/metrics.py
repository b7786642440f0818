"""GET /metrics: on the main port behind METRICS_TOKEN, or on METRICS_HOST:METRICS_PORT."""

from __future__ import annotations

import hmac
import logging

from aiohttp import web

from schema.errors import ErrorCode
from server.errors import ApiError
from server.metrics import CONTENT_TYPE
from server.rest.middleware import request_context
from server.state import STATE, AppState

log = logging.getLogger(__name__)

METRICS_PATH = "/metrics"
MAIN_APP = web.AppKey("main_app", web.Application)


def check_token(state: AppState, authorization: str) -> None:
    """Refuse the scrape unless METRICS_TOKEN is unset (own port only) or presented."""
    expected = state.settings.metrics_token
    if expected is None:
        return
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        token.strip().encode(), expected.encode()
    ):
        raise ApiError(ErrorCode.UNAUTHORIZED, "send Authorization: Bearer <METRICS_TOKEN>")


def scrape(state: AppState, request: web.Request) -> web.Response:
    """Answer the app's metrics in the Prometheus text format."""
    check_token(state, request.headers.get("Authorization", ""))
    return web.Response(body=state.metrics.render(), headers={"Content-Type": CONTENT_TYPE})


async def handle_metrics(request: web.Request) -> web.Response:
    """Serve /metrics on the main port (added only when METRICS_TOKEN is set)."""
    return scrape(request.app[STATE], request)


async def handle_own_port(request: web.Request) -> web.Response:
    """Serve /metrics on the metrics port, for the main app it belongs to."""
    return scrape(request.app[MAIN_APP][STATE], request)


async def start_metrics_site(app: web.Application) -> web.AppRunner | None:
    """Listen on METRICS_HOST:METRICS_PORT when METRICS_PORT is set."""
    settings = app[STATE].settings
    if settings.metrics_port is None:
        return None
    metrics_app = web.Application(middlewares=[request_context])
    metrics_app[MAIN_APP] = app
    metrics_app.router.add_get(METRICS_PATH, handle_own_port)
    runner = web.AppRunner(metrics_app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.metrics_host, settings.metrics_port).start()
    log.info(
        "metrics on http://%s:%d%s", settings.metrics_host, settings.metrics_port, METRICS_PATH
    )
    return runner
