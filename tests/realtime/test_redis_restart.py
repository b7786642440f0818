"""Redis restarted while events flow: delivery is delayed, never lost."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import requires_postgres, requires_redis
from tests.wsclient import Device

pytestmark = [
    requires_postgres,
    requires_redis,
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server"),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisProcess:
    """A private redis-server this test may kill and restart."""

    def __init__(self, port: int, workdir: Path) -> None:
        self.port = port
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            cwd=self.workdir,
            stdout=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


@pytest.fixture
def redis_process(tmp_path: Path) -> Iterator[RedisProcess]:
    server = RedisProcess(free_port(), tmp_path)
    server.start()
    yield server
    server.stop()


async def wait_port(port: int) -> None:
    async with asyncio.timeout(5):
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                return
            except OSError:
                await asyncio.sleep(0.02)


async def test_redis_restart_loses_no_event(start_server, token, redis_process):
    await wait_port(redis_process.port)
    url = f"redis://127.0.0.1:{redis_process.port}/0"
    a = await start_server(redis_url=url, hub_sweep_s=60)
    b = await start_server(redis_url=url, hub_sweep_s=60)
    sender = await Device.connect(a, token())
    receiver = await Device.connect(b, token())
    timer = await sender.ok("timer.start", {"allocated_ms": 3_600_000})
    total = 1
    for round_ in range(3):
        for i in range(10):
            await sender.ok(
                "timer.pause" if (total + i) % 2 == 1 else "timer.resume", {"id": timer["id"]}
            )
        total += 10
        if round_ == 0:
            redis_process.stop()
        if round_ == 1:
            redis_process.start()
            await wait_port(redis_process.port)
    events = await receiver.wait_events(total, timeout=15)
    assert [e["seq"] for e in events] == list(range(1, total + 1))
    await sender.close()
    await receiver.close()
