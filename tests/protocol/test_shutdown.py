"""SIGTERM: in-flight commands finish, every socket closes with 1012, the process exits."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys

import aiohttp

from server.auth.embedded import EmbeddedIssuer

SECRET = "shutdown-secret-" + "y" * 32


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_ready(session: aiohttp.ClientSession, port: int) -> None:
    async with asyncio.timeout(30):
        while True:
            try:
                async with session.get(f"http://127.0.0.1:{port}/v1/health/ready") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)


async def test_sigterm_finishes_commands_then_closes_1012(tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "DATA_DIR": str(tmp_path),
        "AUTH_SIGNING_SECRET": SECRET,
        "LOG_LEVEL": "WARNING",
    }
    for name in ("DATABASE_URL", "REDIS_URL", "ENVIRONMENT"):
        env.pop(name, None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "server", "serve", "--port", str(port), env=env
    )
    try:
        async with aiohttp.ClientSession() as session:
            await wait_ready(session, port)
            ws = await session.ws_connect(f"http://127.0.0.1:{port}/v1/ws")
            assert (await ws.receive_json())["type"] == "hello"
            await ws.send_json(
                {"type": "auth", "token": EmbeddedIssuer(SECRET.encode()).mint("erin")}
            )
            assert (await ws.receive_json())["type"] == "ready"
            await ws.send_json({"id": 1, "type": "timer.start", "data": {"allocated_ms": 60_000}})
            proc.send_signal(signal.SIGTERM)
            frames = []
            async with asyncio.timeout(15):
                while True:
                    msg = await ws.receive()
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        break
                    frames.append(msg.json())
            assert ws.close_code == 1012
            result = next(f for f in frames if f["type"] == "result")
            assert result["ok"] is True
            assert result["data"]["status"] == "RUNNING"
        async with asyncio.timeout(15):
            assert await proc.wait() == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
