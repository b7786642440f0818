"""Fixtures of the fan-out tests: a channel namespace per test, Redis backends started in it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from server.realtime.redis import RedisBackend
from server.realtime.redis_cluster import RedisClusterBackend
from tests.realtime.test_backends import Inbox

StartRedis = Callable[..., Awaitable[tuple[RedisBackend, Inbox]]]


@pytest.fixture
def prefix() -> str:
    """Give each test its own channel namespace so tests never see each other."""
    return f"test-{uuid.uuid4().hex}"


@pytest.fixture
async def start_redis(prefix: str) -> AsyncIterator[StartRedis]:
    """Start Redis backends (on a Redis Cluster for a list of seed nodes) on the test's
    namespace and stop them all afterwards."""
    started: list[RedisBackend] = []

    async def start(url: str | list[str], **options: Any) -> tuple[RedisBackend, Inbox]:
        if isinstance(url, list):
            backend: RedisBackend = RedisClusterBackend(url, prefix, **options)
        else:
            backend = RedisBackend(url, prefix, **options)
        inbox = Inbox()
        started.append(backend)
        await backend.start(inbox.on_message, inbox.on_reconnect)
        return backend, inbox

    yield start
    for backend in started:
        await backend.stop()
