"""The app-wide state, kept under one web.AppKey (never in module globals)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiohttp import web

from server.auth.verify import TokenVerifier
from server.domain.context import Services
from server.domain.exports.slots import ExportSlots
from server.domain.registry import CommandRegistry
from server.domain.timers.scheduler import DueScheduler
from server.metrics import Metrics
from server.protocol.admission import Admission
from server.protocol.checks import CheckSchedule
from server.protocol.limits import ConnectLimiter, IpNetwork
from server.protocol.ticks import Ticker
from server.protocol.upgrades import UpgradeGate
from server.realtime.hub import Hub
from server.settings import Settings

if TYPE_CHECKING:
    from server.protocol.connection import Connection


@dataclass
class AppState:
    """Everything a request or connection needs from the app."""

    settings: Settings
    services: Services
    hub: Hub
    registry: CommandRegistry
    verifier: TokenVerifier
    ticker: Ticker
    scheduler: DueScheduler
    connect_limiter: ConnectLimiter
    trusted_networks: list[IpNetwork]
    metrics: Metrics
    exports: ExportSlots
    admission: Admission
    connections: set[Connection] = field(default_factory=set)
    upgrades: UpgradeGate = field(default_factory=UpgradeGate)
    # When each connection next needs the keepalive sweep.
    checks: CheckSchedule[Connection] = field(default_factory=CheckSchedule)
    shutting_down: bool = False


SETTINGS = web.AppKey("settings", Settings)
STATE = web.AppKey("state", AppState)
