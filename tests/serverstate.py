"""A test server's live connections, seen from the test: which socket is whose, and waiting."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aiohttp.test_utils import TestClient

from server.protocol.connection import Connection
from server.state import STATE

BOUND_S = 10.0


async def until(holds: Callable[[], bool], timeout: float = BOUND_S) -> None:
    """Wait until ``holds()`` is true; fail after ``timeout`` s."""
    async with asyncio.timeout(timeout):
        while not holds():  # noqa: ASYNC110 - polls server state, which has no event
            await asyncio.sleep(0.01)


def server_connections(server: TestClient[Any, Any]) -> set[Connection]:
    """Return the server's live connection set."""
    connections: set[Connection] = server.server.app[STATE].connections
    return connections


def connection_to(server: TestClient[Any, Any], client_port: int) -> Connection:
    """Find the server's connection to the client on ``client_port``."""
    for conn in server_connections(server):
        if conn.out.transport.get_extra_info("peername")[1] == client_port:
            return conn
    raise AssertionError(f"the server has no connection to port {client_port}")
