"""Fixtures: a real database (SQLite file or PostgreSQL) and fan-out (in-process or Redis)."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import text

from server.app import create_app
from server.auth.embedded import EmbeddedIssuer
from server.settings import Settings, async_url
from server.storage import migrate
from server.storage.db import create_engine
from server.storage.tables import metadata
from tests.rediscluster import LocalCluster, free_cluster_ports
from tests.wsclient import Device

SECRET = "test-secret-" + "x" * 40
PG_URL = os.environ.get("TEST_DATABASE_URL")
REDIS_URL = os.environ.get("TEST_REDIS_URL")
# Seed nodes of a running Redis Cluster; unset, the Redis pass starts a local one.
REDIS_CLUSTER = os.environ.get("TEST_REDIS_CLUSTER")
NO_CLUSTER = "neither TEST_REDIS_CLUSTER nor TEST_REDIS_URL is set; Redis Cluster not tested"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrate one SQLite file per session; each test copies it."""
    path = tmp_path_factory.mktemp("template") / "hipster.db"
    migrate.upgrade(async_url(f"sqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def pg_migrated() -> str | None:
    """Rebuild the PostgreSQL schema once per session from the migrations."""
    if PG_URL is None:
        return None
    url = async_url(PG_URL)
    asyncio.run(_drop_everything(url))
    migrate.upgrade(url)
    return url


async def _drop_everything(url: str) -> None:
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.drop_all)
        await conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    await engine.dispose()


async def _truncate(url: str) -> None:
    engine = create_engine(url)
    names = ", ".join(table.name for table in metadata.sorted_tables)
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    await engine.dispose()


@pytest.fixture(scope="session")
def local_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster | None]:
    """Start three local Redis Cluster masters, unless TEST_REDIS_CLUSTER names a cluster."""
    if REDIS_CLUSTER:
        yield None
        return
    if not REDIS_URL:
        pytest.skip(NO_CLUSTER)
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        pytest.skip("redis-server and redis-cli are needed to start a local Redis Cluster")
    cluster = LocalCluster(tmp_path_factory.mktemp("redis-cluster"), free_cluster_ports())
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def cluster_seeds(local_cluster: LocalCluster | None) -> list[str]:
    """Seed node URLs of the test Redis Cluster."""
    if local_cluster is not None:
        return local_cluster.seeds
    assert REDIS_CLUSTER is not None
    return [seed.strip() for seed in REDIS_CLUSTER.split(",")]


@pytest.fixture
def own_cluster(local_cluster: LocalCluster | None) -> LocalCluster:
    """The local Redis Cluster, for tests that restart or reshard it."""
    if local_cluster is None:
        pytest.skip("TEST_REDIS_CLUSTER names a cluster these tests may not restart or reshard")
    return local_cluster


@pytest.fixture(params=["redis", "redis_cluster"])
def over_redis(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Server settings that fan out over the test Redis, then over the test Redis Cluster."""
    if request.param == "redis_cluster":
        return {"redis_url": None, "redis_cluster_url": request.getfixturevalue("cluster_seeds")}
    return {}


@pytest.fixture
async def database_url(
    tmp_path: Path, sqlite_template: Path, pg_migrated: str | None
) -> AsyncIterator[str]:
    """Give each test an empty, migrated database."""
    if pg_migrated is not None:
        await _truncate(pg_migrated)
        yield pg_migrated
        return
    path = tmp_path / "data" / "hipster.db"
    path.parent.mkdir()
    shutil.copy(sqlite_template, path)
    yield async_url(f"sqlite:///{path}")


@pytest.fixture
def make_settings(tmp_path: Path, database_url: str) -> Callable[..., Settings]:
    """Build settings for a test server; keyword arguments override."""
    prefix = "t" + secrets.token_hex(4)

    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "environment": "test",
            "data_dir": tmp_path / "data",
            "database_url": database_url,
            "redis_url": REDIS_URL,
            "redis_prefix": prefix,
            "auth_signing_secret": SECRET,
            "ws_connect_per_min": 10_000,
            "ws_connect_burst": 1000,
            "ws_rate_per_s": 1000,
            "ws_rate_burst": 1000,
            "shutdown_grace_s": 2,
        }
        values.update(overrides)
        return Settings(**values)

    return build


@pytest.fixture
def issuer() -> EmbeddedIssuer:
    """The embedded issuer the test servers trust."""
    return EmbeddedIssuer(SECRET.encode())


@pytest.fixture
def token(issuer: EmbeddedIssuer) -> Callable[..., str]:
    """Mint a token for a user."""

    def mint(user: str = "alice", **kwargs: Any) -> str:
        return issuer.mint(user, **kwargs)

    return mint


class ServedLikeProduction(TestServer):
    """A test server that, like ``serve``, lets a handler run on when its client vanishes."""

    async def _make_runner(self, **kwargs: Any) -> web.BaseRunner:
        # aiohttp's test server cancels such handlers; run_app does not.
        kwargs["handler_cancellation"] = False
        return await super()._make_runner(**kwargs)


ServerFactory = Callable[..., Awaitable[TestClient[Any, Any]]]


@pytest.fixture
async def start_server(make_settings: Callable[..., Settings]) -> AsyncIterator[ServerFactory]:
    """Start server instances (all on the test's database and fan-out); stop them after."""
    clients: list[TestClient[Any, Any]] = []

    async def start(**overrides: Any) -> TestClient[Any, Any]:
        client = TestClient(TestServer(create_app(make_settings(**overrides))))
        await client.start_server()
        clients.append(client)
        return client

    yield start
    for client in reversed(clients):
        await client.close()


@pytest.fixture
async def client(start_server: ServerFactory) -> TestClient[Any, Any]:
    """One server instance with default test settings."""
    return await start_server()


DeviceFactory = Callable[..., Awaitable[Device]]


@pytest.fixture
async def device(
    client: TestClient[Any, Any], token: Callable[..., str]
) -> AsyncIterator[DeviceFactory]:
    """Connect authenticated devices to the default server."""
    devices: list[Device] = []

    async def connect(
        user: str = "alice", *, on: TestClient[Any, Any] | None = None, **auth: Any
    ) -> Device:
        dev = await Device.connect(on or client, token(user), **auth)
        devices.append(dev)
        return dev

    yield connect
    for dev in devices:
        await dev.close()


requires_postgres = pytest.mark.skipif(PG_URL is None, reason="needs TEST_DATABASE_URL")
requires_redis = pytest.mark.skipif(REDIS_URL is None, reason="needs TEST_REDIS_URL")
