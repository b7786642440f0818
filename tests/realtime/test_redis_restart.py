"""Redis killed or hung while events flow: replies never wait, delivery is delayed, never lost."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import shutil
import signal
import socket
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from server.state import STATE
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
        self.paused = False

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
            self.paused = False

    def pause(self) -> None:
        """SIGSTOP it: connections stay open, nothing is answered."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        """SIGCONT it, if paused."""
        if self.proc is not None and self.paused:
            self.proc.send_signal(signal.SIGCONT)
            self.paused = False


@pytest.fixture
def redis_process(tmp_path: Path) -> Iterator[RedisProcess]:
    server = RedisProcess(free_port(), tmp_path)
    server.start()
    yield server
    server.resume()
    server.stop()


@contextlib.asynccontextmanager
async def hung(redis: RedisProcess, at_most: float) -> AsyncIterator[None]:
    """Keep ``redis`` stopped for the block, but no longer than ``at_most`` seconds."""
    redis.pause()
    timer = asyncio.get_running_loop().call_later(at_most, redis.resume)
    try:
        yield
    finally:
        timer.cancel()
        redis.resume()


async def eventually(condition: Callable[[], Any], what: str, within: float = 10.0) -> None:
    """Poll ``condition`` (plain or async) until it holds; fail after ``within`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        result = condition()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            pytest.fail(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(0.02)


async def redis_reason(server: TestClient[Any, Any]) -> str | None:
    """Return why readiness says Redis fails (503), or None while it is ready (200)."""
    response = await server.get("/v1/health/ready")
    body = await response.json()
    if response.status == 200:
        return None
    assert response.status == 503
    assert body["checks"]["redis"] == "failing"
    assert body["error"]["details"]["failing"] == ["redis"]
    reason: str = body["error"]["details"]["reasons"]["redis"]
    return reason


async def redis_failing(server: TestClient[Any, Any], reasons: list[str]) -> bool:
    """Tell whether readiness reports Redis failing; keep the reason given."""
    reason = await redis_reason(server)
    if reason is not None:
        reasons.append(reason)
    return reason is not None


async def redis_ready(server: TestClient[Any, Any]) -> bool:
    """Tell whether readiness reports Redis as fine."""
    return await redis_reason(server) is None


async def toggle(device: Device, timer_id: str, count: int) -> None:
    """Pause and resume the timer ``count`` times in all, awaiting each reply."""
    for i in range(count):
        await device.ok("timer.pause" if i % 2 == 0 else "timer.resume", {"id": timer_id})


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
            for server in (a, b):
                await eventually(lambda s=server: redis_failing(s, []), "readiness to say so")
        if round_ == 1:
            redis_process.start()
            await wait_port(redis_process.port)
    events = await receiver.wait_events(total, timeout=15)
    assert [e["seq"] for e in events] == list(range(1, total + 1))
    await sender.close()
    await receiver.close()


# Shorter than the 5 s socket timeout each publish used to wait out before the reply.
HANG_S = 4.0
HANG_COMMANDS = 40
QUEUE_MAX = 16  # fewer than the commands: the hang overflows A's publish queue


async def test_hung_redis_holds_up_no_reply_and_loses_no_event(start_server, token, redis_process):
    await wait_port(redis_process.port)
    options = {
        "redis_url": f"redis://127.0.0.1:{redis_process.port}/0",
        "hub_sweep_s": 60,  # B must catch up by reconnecting, not by the sweep
        "redis_timeout_s": 0.5,
        "redis_health_check_s": 0.2,
        "redis_publish_queue_max_frames": QUEUE_MAX,
    }
    a = await start_server(**options)
    b = await start_server(**options)
    sender = await Device.connect(a, token())
    receiver = await Device.connect(b, token())
    timer = await sender.ok("timer.start", {"allocated_ms": 3_600_000})
    await receiver.wait_events(1)
    reasons: dict[str, list[str]] = {"a": [], "b": []}

    async with hung(redis_process, at_most=HANG_S):
        await toggle(sender, timer["id"], HANG_COMMANDS)
        assert redis_process.paused, "a reply waited for Redis"
        for name, server in (("a", a), ("b", b)):
            await eventually(
                lambda s=server, n=name: redis_failing(s, reasons[n]), f"{name} to report the hang"
            )
        assert redis_process.paused, "readiness noticed the hang only after it ended"

    assert all(r.startswith("no reply") for r in reasons["a"] + reasons["b"]), reasons
    for server in (a, b):
        await eventually(lambda s=server: redis_ready(s), "readiness to recover")
    outbox = a.server.app[STATE].hub.backend.publisher.outbox
    assert outbox.high_water <= QUEUE_MAX
    assert outbox.dropped_total > 0

    committed = 1 + HANG_COMMANDS
    for device in (receiver, sender):
        await device.wait_events(committed, timeout=15)
    await toggle(sender, timer["id"], 1)  # a sentinel: anything repeated would come before it
    for device in (receiver, sender):
        events = await device.wait_events(committed + 1)
        assert [e["seq"] for e in events] == list(range(1, committed + 2))
    await sender.close()
    await receiver.close()
