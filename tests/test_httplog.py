"""A request the client garbled is one INFO line in the log, never an ERROR with a traceback."""

from __future__ import annotations

import asyncio
import logging

import pytest

from server.httplog import ServerLog

# Sent as the second request of a connection (and the first, once): aiohttp already
# quiets a bad method on a first request (port scanners), and nothing else.
MALFORMED = [
    b"GET / HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n",
    b"GET / HTTP/7.0\r\nHost: x\r\n\r\n",
    b"GET /" + b"a" * 40_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",  # past the 32 KiB line limit
    b"GET /\x00 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"G@T / HTTP/1.1\r\nHost: x\r\n\r\n",
]


async def send_raw(port: int, request: bytes, *, second: bool = True) -> bytes:
    """Send raw bytes as a request (``second``: after a good one); return the answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    async with asyncio.timeout(5):
        if second:
            writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            await reader.readexactly(length)
        writer.write(request)
        answer = await reader.read()
    writer.close()
    await writer.wait_closed()
    return answer


@pytest.mark.parametrize(
    ("request_bytes", "second"),
    [(request, True) for request in MALFORMED] + [(MALFORMED[0], False)],
)
async def test_malformed_request_is_400_and_one_info_line(client, caplog, request_bytes, second):
    caplog.set_level(logging.DEBUG, logger="aiohttp.server")
    answer = await send_raw(client.server.port, request_bytes, second=second)
    assert b" 400 Bad Request\r\n" in answer
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    refused = [r for r in caplog.records if "refused with 400" in r.getMessage()]
    assert len(refused) == 1
    assert refused[0].levelno == logging.INFO
    assert refused[0].exc_info is None
    assert "\n" not in refused[0].getMessage()


def test_a_server_fault_still_logs_an_error(caplog):
    server_log = ServerLog(logging.getLogger("aiohttp.server"))
    try:
        raise RuntimeError("boom")
    except RuntimeError as exc:
        server_log.exception("Error handling request from %s", "127.0.0.1", exc_info=exc)
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert errors[0].exc_info is not None
