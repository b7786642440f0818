"""LOG_FORMAT=json: one JSON object per line, carrying the request's and the command's context."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from server.logs import CONNECTION_ID, JsonFormatter
from tests.conftest import SECRET
from tests.wsclient import Device

BOOT_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def json_server(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[str], Path]]:
    """Run `hipster-timer serve` with JSON logs at DEBUG on SQLite; stop it after."""
    port = free_port()
    log_path = tmp_path / "server.log"
    environment = {**os.environ, "DATA_DIR": str(tmp_path), "AUTH_SIGNING_SECRET": SECRET}
    environment |= {"LOG_FORMAT": "json", "LOG_LEVEL": "DEBUG", "ENVIRONMENT": "test"}
    for name in ("DATABASE_URL", "REDIS_URL"):
        environment.pop(name, None)
    # A file, not a pipe: DEBUG lines (aiosqlite logs every call) would fill a pipe and block.
    with log_path.open("w") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "server", "serve", "--port", str(port)],
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=log_file,
            text=True,
        )
    try:
        yield f"http://127.0.0.1:{port}", process, log_path
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


async def wait_live(http: aiohttp.ClientSession, base: str) -> None:
    async with asyncio.timeout(BOOT_TIMEOUT_S):
        while True:
            try:
                async with http.get(f"{base}/v1/health/live") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)


def stop_and_read_lines(process: subprocess.Popen[str], log_path: Path) -> list[dict[str, Any]]:
    """Stop the server and parse every line it logged (each must be one JSON object)."""
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)
    lines = [line for line in log_path.read_text().splitlines() if line.strip()]
    assert lines
    return [json.loads(line) for line in lines]


async def test_a_command_logs_one_json_line_with_its_context(json_server, token):
    base, process, log_path = json_server
    async with aiohttp.ClientSession() as http:
        await wait_live(http, base)
        ws = await http.ws_connect(f"{base}/v1/ws", headers={"X-Request-ID": "probe-7"})
        dev = Device(ws)
        dev.hello = await dev.receive()
        await ws.send_json({"type": "auth", "token": token("ada")})
        dev.ready = await dev.receive()
        await dev.ok("ping")
        await dev.error("no.such.command")
        await ws.close()
    entries = stop_and_read_lines(process, log_path)
    commands = [e for e in entries if e["logger"] == "server.commands"]
    ping, unknown = commands
    assert set(ping) == {
        "time",
        "level",
        "logger",
        "message",
        "request_id",
        "connection_id",
        "user_id",
        "command",
        "outcome",
        "duration_ms",
    }
    assert ping["level"] == "DEBUG"
    assert (ping["request_id"], ping["user_id"]) == ("probe-7", "ada")
    assert ping["connection_id"] == dev.ready["connection"]
    assert (ping["command"], ping["outcome"]) == ("ping", "ok")
    assert ping["duration_ms"] >= 0
    assert ping["time"].endswith("Z")
    assert "command" not in unknown
    assert unknown["outcome"] == "unknown_command"


def test_a_records_own_ids_win_over_the_context():
    # Fan-out runs in the publishing command's task: a line about another
    # connection must not take the publisher's ids.
    record = logging.LogRecord("server", logging.INFO, __file__, 1, "closing", (), None)
    record.connection_id = "theirs"
    token = CONNECTION_ID.set("mine")
    try:
        entry = json.loads(JsonFormatter().format(record))
    finally:
        CONNECTION_ID.reset(token)
    assert entry["connection_id"] == "theirs"
    assert entry["message"] == "closing"
