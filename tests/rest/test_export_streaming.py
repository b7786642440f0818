"""Exports stream: a client that stops reading holds a bounded buffer, stalls and failures cut."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any

import aiohttp
import orjson
import pytest

from schema.exports import TimerExportQuery
from server.domain.exports import timesheet
from server.domain.exports.timers import TimerExport, prepare_timer_export
from server.rest import streaming
from server.state import STATE
from tests.rest.exporting import SecondReadProbe, put_timers, timer_row
from tests.rest.test_rest import bearer
from tests.serverstate import until
from tests.wsclient import Device

# 5,000 timers of ~1 KB each as JSON Lines: 5 MB, many times what the kernel
# buffers for a stalled client (see small_send_buffer: 128 KB sent, a 32 KB
# receive window) and what the server may hold (BOUND), so most of it must wait
# in the server's database cursor unless the server buffers instead.
TIMERS = 5_000
# The server's send buffer on the tests' connections. Left to itself the kernel
# grows it up to net.ipv4.tcp_wmem's maximum (4 MB here, more on other machines:
# an export that fits there would never stall).
SEND_BUFFER = 64 * 1024
NOTES = "n" * 800
# A chunk (250 rows, ~250 KB) plus the transport's 64 KiB high-water mark, with room.
BOUND = 1024 * 1024


def small_send_buffer(server) -> None:
    """Fix SEND_BUFFER on the server's listening sockets (accepted ones inherit it)."""
    for site in server.server.runner.sites:
        for sock in site._server.sockets:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)


@pytest.fixture
async def heavy(client, token):
    """Alice, with TIMERS long timers."""
    small_send_buffer(client)
    dev = await Device.connect(client, token())
    rows = [
        timer_row("alice", "2026-01-01T00:00:00Z", title=str(i), description=NOTES)
        for i in range(TIMERS)
    ]
    await put_timers(client, rows)
    yield rows
    await dev.close()


class RawGet:
    """An HTTP/1.1 GET on a socket with a small receive window, read only when asked."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.local = writer.get_extra_info("sockname")

    @classmethod
    async def open(cls, client, path: str, token: str) -> RawGet:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (client.host, client.port))
        # A small reader limit: this client buffers ~128 KB at most of its own.
        reader, writer = await asyncio.open_connection(sock=sock, limit=64 * 1024)
        request = f"GET {path} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
        writer.write(request.encode())
        return cls(reader, writer)

    async def head(self) -> bytes:
        return await self.reader.readuntil(b"\r\n\r\n")

    async def rest(self) -> bytes:
        """Read to the end, or to a reset (after which the kernel has nothing more)."""
        received = []
        try:
            while chunk := await self.reader.read(64 * 1024):
                received.append(chunk)
        except ConnectionResetError:
            pass
        return b"".join(received)

    def close(self) -> None:
        self.writer.close()


def dechunk(body: bytes) -> tuple[bytes, bool]:
    """Decode a chunked body; tell whether it ended with the final (empty) chunk."""
    out, pos = [], 0
    while pos < len(body):
        end = body.find(b"\r\n", pos)
        if end < 0:
            return b"".join(out), False
        size = int(body[pos:end], 16)
        if size == 0:
            return b"".join(out), True
        out.append(body[end + 2 : end + 2 + size])
        pos = end + 2 + size + 2
    return b"".join(out), False


async def exports_end(server) -> None:
    """Wait until the server saw its stalled clients go and ended their exports.

    A client that closes is noticed at the server's next write; the test must not
    end first, or it would test the server's shutdown instead (which cuts the
    export and waits for its read under way: see the last test below).
    """
    slots = server.server.app[STATE].exports
    await until(lambda: slots.running() == 0, timeout=5.0)


def server_transport(client, local: Any) -> asyncio.Transport:
    """Find the server side of the connection whose client end is ``local``."""
    for handler in client.server.runner.server.connections:
        if handler.transport is not None and handler.transport.get_extra_info("peername") == local:
            return handler.transport
    raise AssertionError("no such connection on the server")


async def test_a_client_that_stops_reading_holds_a_bounded_buffer(client, token, heavy):
    raw = await RawGet.open(client, "/v1/export/timers.jsonl", token())
    assert b"200 OK" in await raw.head()
    transport = server_transport(client, raw.local)
    buffered = []
    for _ in range(30):  # 1.5 s without reading a byte
        await asyncio.sleep(0.05)
        buffered.append(transport.get_write_buffer_size())
    assert max(buffered) < BOUND, max(buffered)
    assert buffered[-1] > 0  # it is the server that waits, with its buffer full
    body, complete = dechunk(await raw.rest())
    raw.close()
    assert complete
    lines = body.splitlines()
    assert len(lines) == TIMERS
    assert {orjson.loads(line)["id"] for line in lines} == {r["id"] for r in heavy}


async def test_a_stalled_client_is_dropped_and_frees_its_slot(client, token, heavy, monkeypatch):
    monkeypatch.setattr(streaming, "STALL_S", 0.5)
    raw = await RawGet.open(client, "/v1/export/timers.csv", token())
    await raw.head()
    # The body's first bytes, read now: the cut may reset away what the kernel holds.
    await raw.reader.readuntil(b"\r\n")  # the first chunk's size
    assert await raw.reader.readexactly(12) == b"Description,"
    slots = client.server.app[STATE].exports
    assert slots.running("alice") == 1
    # Dropped after STALL_S without a byte taken (not held until the export ends,
    # which a client that never reads never lets happen); bounded, not timed, as
    # a loaded machine delays the drop.
    await until(lambda: slots.running() == 0, timeout=5.0)
    body = await raw.rest()  # what the kernels held, unless the cut reset it away
    raw.close()
    assert not body.endswith(b"\r\n0\r\n\r\n")


async def test_a_user_runs_two_exports_at_once_not_three(client, token, heavy):
    stalled = [await RawGet.open(client, "/v1/export/timers.jsonl", token()) for _ in range(2)]
    for raw in stalled:
        await raw.head()
    response = await client.get("/v1/export/account", headers=bearer(token()))
    assert response.status == 429
    error = (await response.json())["error"]
    assert (error["code"], error["details"]) == ("rate_limited", {"limit": 2, "scope": "user"})
    other = await client.get("/v1/export/timers.csv", headers=bearer(token("bob")))
    assert other.status == 200
    await other.read()
    for raw in stalled:
        raw.close()
    await exports_end(client)


async def test_the_instance_limit_counts_every_user(start_server, token):
    server = await start_server(export_concurrency=1)
    small_send_buffer(server)
    await Device.connect(server, token())
    rows = [timer_row("alice", "2026-01-01T00:00:00Z", description=NOTES) for _ in range(TIMERS)]
    await put_timers(server, rows)
    raw = await RawGet.open(server, "/v1/export/timers.jsonl", token())
    await raw.head()
    response = await server.get("/v1/export/timers.csv", headers=bearer(token("bob")))
    assert response.status == 429
    assert (await response.json())["error"]["details"] == {"limit": 1, "scope": "instance"}
    raw.close()
    await exports_end(server)


async def test_a_failure_after_the_headers_cuts_the_body(client, token, monkeypatch):
    await Device.connect(client, token())
    await put_timers(client, [timer_row("alice", "2026-01-01T00:00:00Z") for _ in range(1200)])
    calls = []
    original = timesheet.Timesheet.csv

    def failing(self, rows, now):
        calls.append(len(rows))
        if len(calls) == 2:
            raise RuntimeError("boom")
        return original(self, rows, now)

    monkeypatch.setattr(timesheet.Timesheet, "csv", failing)
    response = await client.get("/v1/export/timers.csv", headers=bearer(token()))
    assert response.status == 200
    with pytest.raises(aiohttp.ClientPayloadError):
        await response.read()
    assert client.server.app[STATE].exports.running() == 0
    assert (await client.get("/health")).status == 200


# Where the cut finds the export: waiting for its next batch (the consumer took
# every chunk at once), or writing a chunk to a client that takes its time.
CUTS = {"reading": (0.0, 0.05), "writing": (1.0, 0.0)}


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
@pytest.mark.parametrize("cut", sorted(CUTS))
async def test_an_export_cut_short_lets_the_read_under_way_end(
    client, heavy, monkeypatch, fmt, cut
):
    write_s, after_s = CUTS[cut]
    probe = SecondReadProbe(TimerExport._read)
    monkeypatch.setattr(TimerExport, "_read", probe.read)
    services = client.server.app[STATE].services
    export = await prepare_timer_export(services, "alice", TimerExportQuery())

    async def consume() -> None:
        async with contextlib.aclosing(export.chunks(fmt)) as chunks:  # as stream_body does
            async for _ in chunks:
                await asyncio.sleep(write_s)

    await probe.cut(consume, after_s)
    assert probe.outcomes == ["read", "read"]
