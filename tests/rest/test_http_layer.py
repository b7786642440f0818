"""What REST answers around the routes: 405 with Allow, 401 with a challenge, malformed HTTP."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from server.rest.middleware import MAX_REQUEST_LINE


async def raw_request(client: Any, head: bytes) -> bytes:
    """Send ``head`` as the whole request on a fresh connection; return the status line."""
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    try:
        writer.write(head)
        await writer.drain()
        async with asyncio.timeout(5):
            return await reader.readline()
    finally:
        writer.close()
        await writer.wait_closed()


def errors_logged(caplog: Any) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


async def test_an_undeclared_method_is_405_with_allow(client):
    response = await client.request("TRACE", "/v1/timers")
    assert response.status == 405
    assert {"GET", "HEAD"} <= set(response.headers["Allow"].split(","))
    assert (await response.json())["error"]["code"] == "bad_frame"


async def test_unauthorized_names_the_bearer_scheme(client):
    response = await client.get("/v1/friends")
    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="hipster-timer"'
    assert (await client.get("/v1/friends?x=1")).headers.get("WWW-Authenticate") is not None
    assert "WWW-Authenticate" not in (await client.get("/nope")).headers


async def test_malformed_http_is_400_and_logged_as_the_clients_fault(client, caplog):
    caplog.set_level(logging.INFO, logger="aiohttp.server")
    status = await raw_request(client, b"GET /health HTTP/1.1\r\nX-Bad: a\x01b\r\n\r\n")
    assert status.split()[1] == b"400"
    assert errors_logged(caplog) == []
    assert any("Error handling request" in r.getMessage() for r in caplog.records)


async def test_a_long_request_line_reaches_the_routes_up_to_the_limit(client, caplog):
    within = "/v1/timers?cursor=" + "x" * (MAX_REQUEST_LINE - 100)
    response = await client.get(within)
    assert response.status == 401
    beyond = b"GET /health?x=" + b"x" * MAX_REQUEST_LINE + b" HTTP/1.1\r\n\r\n"
    assert (await raw_request(client, beyond)).split()[1] == b"400"
    assert errors_logged(caplog) == []
