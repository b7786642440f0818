"""Fixtures of the race suite: instances on one database, devices spread over them."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import PG_URL
from tests.wsclient import Device


@pytest.fixture
async def instances(start_server):
    """``count`` server instances on one database, or one when the database has one writer."""

    async def start(count: int = 2, **settings: Any) -> list[Any]:
        if not PG_URL:
            return [await start_server(**settings)] * count
        return [await start_server(**settings) for _ in range(count)]

    return start


@pytest.fixture
async def devices(token):
    """Connect devices, each to one of the instances; close them after."""
    opened: list[Device] = []

    async def connect(servers: list[Any], *users: str) -> list[Device]:
        for n, user in enumerate(users):
            opened.append(await Device.connect(servers[n % len(servers)], token(user)))
        return opened[-len(users) :]

    yield connect
    for dev in opened:
        await dev.close()
