"""Settings from the environment; every variable is documented in docs/configuration.md."""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from server.auth.algorithms import ASYMMETRIC_ALGORITHMS

Csv = Annotated[list[str], NoDecode]


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _duration(value: object) -> object:
    """Accept plain seconds and 30s / 15m / 24h / 7d besides ISO 8601 (P7D)."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text.isdigit():
            return timedelta(seconds=int(text))
        if text[:-1].isdigit() and text[-1:] in _UNITS:
            return timedelta(seconds=int(text[:-1]) * _UNITS[text[-1]])
    return value


class Settings(BaseSettings):
    """Every knob the server reads, with its default."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    environment: Literal["development", "production", "test"] = "development"
    debug: bool = False
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["plain", "json"] = "plain"
    host: str = "127.0.0.1"
    port: int = Field(default=2614, ge=1, le=65535)
    data_dir: Path = Path("data")

    database_url: str | None = None
    db_pool_size: int = Field(default=20, ge=1, le=200)
    db_pool_timeout_s: float = Field(default=5.0, gt=0, le=60)
    redis_url: str | None = None
    redis_cluster_url: Csv = Field(default_factory=list)
    redis_prefix: str = Field(default="ht", pattern=r"^[A-Za-z0-9_.-]{1,40}$")
    redis_timeout_s: float = Field(default=2.0, gt=0)
    redis_health_check_s: float = Field(default=1.0, gt=0)
    redis_publish_queue_max_frames: int = Field(default=10_000, ge=1)
    redis_publish_queue_max_bytes: int = Field(default=16 * 1024 * 1024, ge=64 * 1024)

    auth_signing_secret: str | None = None
    auth_issuer: str = "hipster-timer"
    auth_audience: str = "hipster-timer"
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_algorithms: Csv = Field(default_factory=lambda: ["RS256", "ES256", "EdDSA", "PS256"])

    cors_origins: Csv = Field(default_factory=list)
    cors_allow_credentials: bool = False
    trusted_proxy_ips: Csv = Field(default_factory=list)

    ws_auth_timeout_s: float = Field(default=10.0, gt=0)
    ws_heartbeat_s: float = Field(default=25.0, gt=0)
    ws_max_message_bytes: int = Field(default=64 * 1024, ge=1024)
    ws_queue_max_frames: int = Field(default=1024, ge=16)
    ws_queue_max_bytes: int = Field(default=1024 * 1024, ge=64 * 1024)
    ws_rate_per_s: float = Field(default=20.0, gt=0)
    ws_rate_burst: int = Field(default=60, ge=1)
    ws_rate_close_after: int = Field(default=50, ge=1)
    ws_bad_frames_per_min: int = Field(default=20, ge=1)
    ws_connect_per_min: float = Field(default=120.0, gt=0)
    ws_connect_burst: int = Field(default=60, ge=1)
    ws_admit_max_pending: int = Field(default=64, ge=1)
    ws_admit_retry_max_s: float = Field(default=60.0, ge=1)
    ws_admit_wait_s: float = Field(default=30.0, ge=0, le=120)
    ws_auth_expiring_s: float = Field(default=60.0, ge=0)
    ws_send_timeout_s: float = Field(default=10.0, gt=0)

    event_retention: timedelta = timedelta(days=7)
    op_retention: timedelta = timedelta(hours=24)
    resume_max_events: int = Field(default=10_000, ge=1)
    prune_interval_s: float = Field(default=3600.0, gt=0)
    hub_sweep_s: float = Field(default=5.0, gt=0)
    due_poll_s: float = Field(default=1.0, gt=0)
    single_running_timer: bool = False
    public_url: str | None = Field(default=None, pattern=r"^https?://[^\s]+[^/\s]$")
    calendar_refresh_minutes: int = Field(default=60, ge=5, le=1440)
    # A streamed year of 1,000 series is ~178,000 items (~100 MB); a minutely
    # series holds 1.6 million in a 3-year window (900 MB, 8 s of server CPU).
    schedule_window_max_items: int = Field(default=200_000, ge=1)
    # VEVENTs and EXDATE values of one feed (ical.MAX_INSTANTS, the renderer's
    # own default); icalendar renders about 4,000 VEVENTs a second.
    calendar_feed_max_instants: int = Field(default=10_000, ge=1)
    export_concurrency: int = Field(default=4, ge=1, le=1000)
    shutdown_grace_s: float = Field(default=10.0, ge=0)

    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    metrics_host: str = "127.0.0.1"
    metrics_token: str | None = None

    _csv = field_validator(
        "oidc_algorithms", "cors_origins", "trusted_proxy_ips", "redis_cluster_url", mode="before"
    )(_split_csv)

    @field_validator("redis_cluster_url")
    @classmethod
    def _seed_nodes(cls, seeds: list[str]) -> list[str]:
        for seed in seeds:
            parts = urlsplit(seed)
            if parts.scheme not in ("redis", "rediss") or not parts.hostname:
                raise ValueError(f"{seed!r} is no redis://host:port or rediss://host:port URL")
            if parts.path.strip("/") not in ("", "0"):
                raise ValueError(f"{seed!r}: a Redis Cluster has only database 0")
        return seeds

    _durations = field_validator("event_retention", "op_retention", mode="before")(_duration)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator(
        "auth_signing_secret",
        "oidc_issuer",
        "oidc_audience",
        "redis_url",
        "database_url",
        "metrics_token",
    )
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("event_retention", "op_retention")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value < timedelta(seconds=1):
            raise ValueError("retention must be at least 1 second")
        return value

    @field_validator("metrics_token")
    @classmethod
    def _long_token(cls, value: str | None) -> str | None:
        if value is not None and len(value.encode()) < 32:
            raise ValueError("METRICS_TOKEN must be at least 32 bytes (it guards /metrics)")
        return value

    @field_validator("oidc_algorithms")
    @classmethod
    def _asymmetric(cls, value: list[str]) -> list[str]:
        unknown = [alg for alg in value if alg not in ASYMMETRIC_ALGORITHMS]
        if unknown or not value:
            raise ValueError(f"OIDC_ALGORITHMS takes asymmetric algorithms only, not {unknown}")
        return value

    @field_validator("trusted_proxy_ips")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        for cidr in value:
            ipaddress.ip_network(cidr, strict=False)
        return value

    @model_validator(mode="after")
    def _one_redis(self) -> Settings:
        if self.redis_url and self.redis_cluster_url:
            raise ValueError("set REDIS_URL or REDIS_CLUSTER_URL, not both")
        return self

    @model_validator(mode="after")
    def _issuers_differ(self) -> Settings:
        if self.oidc_issuer and self.oidc_issuer == self.auth_issuer:
            raise ValueError("OIDC_ISSUER must differ from AUTH_ISSUER (tokens are routed by iss)")
        return self

    @model_validator(mode="after")
    def _production_is_safe(self) -> Settings:
        if self.environment == "production":
            for problem in self.production_problems():
                raise ValueError(problem)
        return self

    def production_problems(self) -> list[str]:
        """List the settings that make this configuration unsafe in production."""
        problems = []
        if self.debug:
            problems.append("DEBUG must be off in production")
        if "*" in self.cors_origins and self.cors_allow_credentials:
            problems.append("CORS_ORIGINS='*' with CORS_ALLOW_CREDENTIALS is refused in production")
        if not self.oidc_issuer and not self.auth_signing_secret:
            problems.append(
                "production needs OIDC_ISSUER or an explicit AUTH_SIGNING_SECRET "
                "(the generated default is for development)"
            )
        if self.auth_signing_secret and len(self.auth_signing_secret.encode()) < 32:
            problems.append("AUTH_SIGNING_SECRET must be at least 32 bytes")
        return problems

    @property
    def fanout(self) -> Literal["redis", "redis_cluster", "memory"]:
        """Name the fan-out backend: Redis, a Redis Cluster, or in-process."""
        if self.redis_url:
            return "redis"
        return "redis_cluster" if self.redis_cluster_url else "memory"

    @property
    def effective_database_url(self) -> str:
        """Return the SQLAlchemy async URL: DATABASE_URL, or SQLite in DATA_DIR."""
        url = self.database_url or f"sqlite:///{(self.data_dir / 'hipster.db').as_posix()}"
        return async_url(url)


def async_url(url: str) -> str:
    """Map a plain database URL onto the async driver SQLAlchemy must use."""
    for plain, driver in (
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
        ("sqlite://", "sqlite+aiosqlite://"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url
