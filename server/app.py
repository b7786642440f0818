"""The application factory: app-wide resources in cleanup contexts, routes, CORS."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Coroutine
from typing import Any

import aiohttp
import aiohttp_cors
from aiohttp import web

from server.auth.embedded import EmbeddedIssuer, load_or_create_secret
from server.auth.oidc import OidcVerifier
from server.auth.verify import TokenVerifier
from server.domain.context import Services
from server.domain.exports.slots import ExportSlots
from server.domain.friends import commands as friend_commands
from server.domain.holidays import commands as holiday_commands
from server.domain.maintenance import run_pruner
from server.domain.meetings import commands as meeting_commands
from server.domain.registry import CommandRegistry
from server.domain.schedules import commands as schedule_commands
from server.domain.tags import commands as tag_commands
from server.domain.timers import commands as timer_commands
from server.domain.timers.scheduler import DueScheduler
from server.domain.todos import commands as todo_commands
from server.domain.users import commands as user_commands
from server.domain.visibility import commands as visibility_commands
from server.domain.visibility.fanout import load_relations
from server.metrics import Metrics
from server.pages.handlers import PAGE_FILES, load_page_files
from server.protocol import core_commands
from server.protocol.admission import Admission
from server.protocol.keepalive import run_keepalive
from server.protocol.limits import ConnectLimiter, parse_networks
from server.protocol.session import handle_ws, shutdown_connections
from server.protocol.ticks import Ticker
from server.realtime.backend import FanoutBackend
from server.realtime.hub import Hub
from server.realtime.memory import InProcessBackend
from server.realtime.redis import RedisBackend
from server.realtime.redis_cluster import RedisClusterBackend
from server.rest.docs import DOCUMENTS, load_documents
from server.rest.meetings import GUEST_HEADER
from server.rest.metrics import METRICS_PATH, handle_metrics, start_metrics_site
from server.rest.middleware import http_layer_args, request_context
from server.rest.routes import add_rest_routes, rest_methods
from server.settings import Settings
from server.state import SETTINGS, STATE, AppState
from server.storage.db import Database, create_engine
from server.storage.meta import get_or_create_epoch

log = logging.getLogger(__name__)


def build_registry() -> CommandRegistry:
    """Register every command handler, explicitly."""
    registry = CommandRegistry()
    core_commands.register(registry)
    user_commands.register(registry)
    timer_commands.register(registry)
    tag_commands.register(registry)
    todo_commands.register(registry)
    schedule_commands.register(registry)
    friend_commands.register(registry)
    visibility_commands.register(registry)
    meeting_commands.register(registry)
    holiday_commands.register(registry)
    return registry


def build_backend(settings: Settings) -> FanoutBackend:
    """Choose Redis pub/sub (REDIS_URL), a Redis Cluster's sharded pub/sub
    (REDIS_CLUSTER_URL), else the in-process twin."""
    options: dict[str, Any] = {
        "timeout_s": settings.redis_timeout_s,
        "health_check_s": settings.redis_health_check_s,
        "queue_max_frames": settings.redis_publish_queue_max_frames,
        "queue_max_bytes": settings.redis_publish_queue_max_bytes,
    }
    if settings.redis_url:
        return RedisBackend(settings.redis_url, settings.redis_prefix, **options)
    if settings.redis_cluster_url:
        return RedisClusterBackend(settings.redis_cluster_url, settings.redis_prefix, **options)
    return InProcessBackend()


async def build_verifier(settings: Settings, session: aiohttp.ClientSession) -> TokenVerifier:
    """Build the token verifier: the embedded issuer and, when configured, OIDC."""
    oidc = None
    if settings.oidc_issuer:
        oidc = OidcVerifier(
            settings.oidc_issuer,
            settings.oidc_audience or settings.auth_audience,
            session=session,
            algorithms=settings.oidc_algorithms,
        )
    embedded = None
    if settings.auth_signing_secret or not settings.oidc_issuer:
        secret = await asyncio.to_thread(
            load_or_create_secret, settings.data_dir, settings.auth_signing_secret
        )
        embedded = EmbeddedIssuer(secret, settings.auth_issuer, settings.auth_audience)
    return TokenVerifier(embedded, oidc)


async def app_context(app: web.Application) -> AsyncIterator[None]:
    """Create the app's resources, run its background tasks, and tear both down."""
    settings = app[SETTINGS]
    url = settings.effective_database_url
    db = Database(create_engine(url, settings.db_pool_size, settings.db_pool_timeout_s))
    http = aiohttp.ClientSession()
    metrics = Metrics()
    hub = Hub(
        build_backend(settings),
        db,
        resume_max_events=settings.resume_max_events,
        load_context=load_relations,
        metrics=metrics,
    )
    tasks: list[asyncio.Task[None]] = []
    metrics_site: web.AppRunner | None = None
    try:
        async with db.transaction() as tx:
            epoch = await get_or_create_epoch(tx.conn)
        services = Services(settings=settings, db=db, publish=hub.publish, epoch=epoch)
        scheduler = DueScheduler(services)
        services.on_due_at = scheduler.wake_for
        app[STATE] = AppState(
            settings=settings,
            services=services,
            hub=hub,
            registry=build_registry(),
            verifier=await build_verifier(settings, http),
            ticker=Ticker(),
            scheduler=scheduler,
            connect_limiter=ConnectLimiter(settings.ws_connect_per_min, settings.ws_connect_burst),
            trusted_networks=parse_networks(settings.trusted_proxy_ips),
            metrics=metrics,
            exports=ExportSlots(settings.export_concurrency),
            admission=Admission(
                settings.ws_admit_max_pending,
                settings.ws_admit_retry_max_s,
                wait_s=settings.ws_admit_wait_s,
            ),
        )
        metrics.watch(app[STATE])
        await hub.start()
        metrics_site = await start_metrics_site(app)
        tasks = _start(
            {
                "due-scheduler": scheduler.run(),
                "pruner": run_pruner(services),
                "hub-sweeper": hub.run_sweeper(settings.hub_sweep_s),
                "hub-presence": hub.run_presence(),
                "keepalive": run_keepalive(app[STATE]),
            }
        )
        yield
    finally:
        if metrics_site is not None:
            await metrics_site.cleanup()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if STATE in app:
            await app[STATE].ticker.stop()
        await hub.stop()
        if STATE in app:
            await app[STATE].services.signing_in.stop()
        await http.close()
        await db.close()
        metrics.close()


def _start(coros: dict[str, Coroutine[Any, Any, None]]) -> list[asyncio.Task[None]]:
    return [asyncio.create_task(coro, name=name) for name, coro in coros.items()]


def add_routes(app: web.Application) -> None:
    """Add the WebSocket endpoint and the thin REST routes, with CORS from settings."""
    settings = app[SETTINGS]
    cors = aiohttp_cors.setup(
        app,
        defaults={
            origin: aiohttp_cors.ResourceOptions(
                allow_credentials=settings.cors_allow_credentials,
                expose_headers=("X-Request-ID", "Content-Disposition", "X-Export-Time-Zone"),
                allow_headers=("Authorization", "Content-Type", "X-Request-ID", GUEST_HEADER),
                allow_methods=rest_methods(),
            )
            for origin in settings.cors_origins
        },
    )
    # The WebSocket is described by the AsyncAPI document, REST by the route table.
    app.router.add_get("/v1/ws", handle_ws)
    add_rest_routes(app, cors)
    if settings.metrics_token:
        app.router.add_get(METRICS_PATH, handle_metrics)


def create_app(settings: Settings | None = None) -> web.Application:
    """Build the aiohttp application."""
    app = web.Application(
        middlewares=[request_context],
        client_max_size=64 * 1024,
        handler_args=http_layer_args(),
    )
    app[SETTINGS] = settings or Settings()
    app[DOCUMENTS] = load_documents()
    app[PAGE_FILES] = load_page_files()
    app.cleanup_ctx.append(app_context)
    app.on_shutdown.append(shutdown_connections)
    add_routes(app)
    return app
