"""Redis outage benchmark: reply latency, readiness and delivery while Redis hangs or dies.

Two server instances (A, B) on one PostgreSQL database and a private redis-server.
Senders on A pause/resume timers at a steady pace; each user has a device on B.
Usage: .venv/bin/python bench/redis_outage.py --database-url postgresql://... (see bench/README.md)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from server.auth.embedded import EmbeddedIssuer

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
POLL_S = 0.02
STALL_S = 20.0


def free_port() -> int:
    """Return a TCP port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """A private redis-server that may be stopped, continued, killed and restarted."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start redis-server without persistence."""
        args = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.proc = subprocess.Popen(
            ["redis-server", *args], cwd=self.workdir, stdout=subprocess.DEVNULL
        )

    def signal(self, signum: int) -> None:
        """Send ``signum`` to the process."""
        assert self.proc is not None
        self.proc.send_signal(signum)

    def kill(self) -> None:
        """SIGKILL the process and reap it."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            self.proc.wait()
            self.proc = None


@dataclass
class Instance:
    """One `hipster-timer serve` subprocess."""

    name: str
    port: int
    proc: subprocess.Popen[bytes]
    not_ready_at: float | None = None  # first 503 after the outage began
    ready_again_at: float | None = None  # first 200 after Redis came back
    reasons: set[str] = field(default_factory=set)


def start_instance(name: str, env: dict[str, str], log: Path) -> Instance:
    """Start one server process on a free port."""
    port = free_port()
    out = log.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "server", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    return Instance(name, port, proc)


async def wait_ready(session: aiohttp.ClientSession, inst: Instance) -> None:
    """Poll readiness until it answers 200."""
    async with asyncio.timeout(60):
        while True:
            with contextlib.suppress(aiohttp.ClientError):
                url = f"http://127.0.0.1:{inst.port}/v1/health/ready"
                async with session.get(url) as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.1)


class Conn:
    """One authenticated socket: results matched by id, events recorded per seq."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.seqs: list[int] = []
        self.arrived: dict[int, float] = {}  # seq -> first arrival (monotonic)
        self.reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, session: aiohttp.ClientSession, port: int, token: str) -> Conn:
        """Connect, authenticate and wait for ready."""
        ws = await session.ws_connect(f"http://127.0.0.1:{port}/v1/ws")
        await ws.receive_json()  # hello
        await ws.send_str(orjson.dumps({"type": "auth", "token": token}).decode())
        while (await ws.receive_json())["type"] != "ready":
            pass
        return cls(ws)

    async def _read(self) -> None:
        async for msg in self.ws:
            frame = orjson.loads(msg.data)
            if frame["type"] == "result":
                self.waiting.pop(frame["id"]).set_result(frame)
            elif frame["type"] == "event":
                self.seqs.append(frame["seq"])
                self.arrived.setdefault(frame["seq"], time.monotonic())

    async def call(self, kind: str, data: dict[str, Any]) -> dict[str, Any]:
        """Send a command and await its result."""
        cid = next(self.ids)
        future = self.waiting[cid] = asyncio.get_running_loop().create_future()
        await self.ws.send_str(orjson.dumps({"id": cid, "type": kind, "data": data}).decode())
        return await future

    async def close(self) -> None:
        """Close the socket and its reader."""
        await self.ws.close()
        self.reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.reader


@dataclass
class Sender:
    """One user's sender on A: its timer and every reply's (sent, latency)."""

    conn: Conn
    timer_id: str
    replies: list[tuple[float, float]] = field(default_factory=list)
    accepted: int = 1  # timer.start
    sent: int = 0  # toggles sent; toggle n carries seq n + 1

    async def run(self, interval_s: float, until: asyncio.Event) -> None:
        """Toggle the timer every ``interval_s`` until ``until`` is set."""
        for i in itertools.count():
            if until.is_set():
                return
            sent = time.monotonic()
            self.sent += 1
            kind = "timer.pause" if i % 2 == 0 else "timer.resume"
            frame = await self.conn.call(kind, {"id": self.timer_id})
            self.replies.append((sent, time.monotonic() - sent))
            self.accepted += bool(frame["ok"])
            await asyncio.sleep(max(0.0, interval_s - (time.monotonic() - sent)))


async def watch_readiness(
    session: aiohttp.ClientSession, inst: Instance, began: float, resumed: asyncio.Future[float]
) -> None:
    """Record when readiness turns 503 after ``began`` and 200 again after the resume."""
    url = f"http://127.0.0.1:{inst.port}/v1/health/ready"
    while inst.ready_again_at is None:
        try:
            async with session.get(url) as response:
                body = await response.json()
        except aiohttp.ClientError:
            await asyncio.sleep(POLL_S)
            continue
        now = time.monotonic()
        if response.status == 503 and inst.not_ready_at is None:
            inst.not_ready_at = now - began
        if response.status == 503:
            reasons = body["error"]["details"].get("reasons", {})
            inst.reasons.add(str(reasons.get("redis", body["checks"].get("redis"))))
        if response.status == 200 and resumed.done():
            inst.ready_again_at = now - resumed.result()
        await asyncio.sleep(POLL_S)


def latency_summary(values: list[float]) -> dict[str, Any]:
    """Summarise latencies in milliseconds."""
    if not values:
        return {"count": 0}
    ordered = sorted(values)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)

    return {"count": len(values), "p50_ms": pick(0.5), "p99_ms": pick(0.99), "max_ms": pick(1.0)}


def delivery_summary(senders: list[Sender], receivers: list[Conn]) -> dict[str, Any]:
    """Count delivered, lost and duplicated events on B's devices."""
    expected = sum(s.accepted for s in senders)
    delivered = duplicated = out_of_order = 0
    lost: list[int] = []
    for sender, receiver in zip(senders, receivers, strict=True):
        seen = receiver.seqs
        delivered += len(set(seen) & set(range(1, sender.accepted + 1)))
        lost += sorted(set(range(1, sender.accepted + 1)) - set(seen))
        duplicated += len(seen) - len(set(seen))
        out_of_order += sum(1 for a, b in itertools.pairwise(seen) if b <= a)
    return {
        "expected": expected,
        "delivered": delivered,
        "lost": len(lost),
        "lost_seqs_sample": lost[:10],
        "duplicated": duplicated,
        "out_of_order": out_of_order,
    }


def prepare(args: argparse.Namespace, workdir: Path) -> tuple[RedisServer, dict[str, str]]:
    """Start the private Redis, migrate the database; return Redis and the servers' env."""
    redis = RedisServer(workdir)
    redis.start()
    env = {
        **os.environ,
        "DATABASE_URL": args.database_url,
        "REDIS_URL": f"redis://127.0.0.1:{redis.port}/0",
        "REDIS_PREFIX": "bench" + secrets.token_hex(4),
        "AUTH_SIGNING_SECRET": secrets.token_urlsafe(48),
        "LOG_LEVEL": "WARNING",
        "HUB_SWEEP_S": str(args.sweep_s),
        "WS_RATE_PER_S": "100000",
        "WS_RATE_BURST": "100000",
        "DATA_DIR": str(workdir),
    }
    subprocess.run([sys.executable, "-m", "server", "db", "upgrade"], cwd=ROOT, env=env, check=True)
    return redis, env


async def run(args: argparse.Namespace, redis: RedisServer, env: dict[str, str]) -> dict[str, Any]:
    """Start both instances, run one outage and return the figures."""
    RESULTS_DIR.mkdir(exist_ok=True)
    instances = [
        start_instance(name, env, RESULTS_DIR / f"redis_outage-{args.mode}-{name}.log")
        for name in ("A", "B")
    ]
    issuer = EmbeddedIssuer(env["AUTH_SIGNING_SECRET"].encode())
    try:
        async with aiohttp.ClientSession() as session:
            for inst in instances:
                await wait_ready(session, inst)
            return await outage(args, session, issuer, redis, instances)
    finally:
        for inst in instances:
            inst.proc.terminate()
            inst.proc.wait(15)


async def outage(
    args: argparse.Namespace,
    session: aiohttp.ClientSession,
    issuer: EmbeddedIssuer,
    redis: RedisServer,
    instances: list[Instance],
) -> dict[str, Any]:
    """Warm up, break Redis for ``hang_s``, bring it back, and collect what happened."""
    a, b = instances
    users = [f"outage-{secrets.token_hex(4)}-{i}" for i in range(args.users)]
    senders, receivers = [], []
    for user in users:
        receivers.append(await Conn.open(session, b.port, issuer.mint(user)))
        conn = await Conn.open(session, a.port, issuer.mint(user))
        timer = await conn.call("timer.start", {"allocated_ms": 3_600_000})
        senders.append(Sender(conn, timer["data"]["id"]))
    done = asyncio.Event()
    interval = args.users / args.rate
    running = [asyncio.create_task(s.run(interval, done)) for s in senders]
    await asyncio.sleep(args.warmup_s)
    began = time.monotonic()
    marks = [s.sent + 2 for s in senders]  # the seq of each sender's first toggle in the outage
    if args.mode == "hang":
        redis.signal(signal.SIGSTOP)
    else:
        redis.kill()
    resumed: asyncio.Future[float] = asyncio.get_running_loop().create_future()
    watchers = [asyncio.create_task(watch_readiness(session, i, began, resumed)) for i in instances]
    await asyncio.sleep(args.hang_s)
    if args.mode == "hang":
        redis.signal(signal.SIGCONT)
    else:
        redis.start()
    resumed.set_result(time.monotonic())
    outage_seqs = [range(mark, s.sent + 2) for s, mark in zip(senders, marks, strict=True)]
    await asyncio.sleep(args.after_s)
    done.set()
    await asyncio.gather(*running)
    await wait_delivered(senders, receivers)
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(10):
            await asyncio.gather(*watchers)
    for watcher in watchers:
        watcher.cancel()
    result = summarise(args, senders, receivers, instances, began, resumed.result())
    result["outage_events_on_B_s_after_resume"] = outage_catch_up(
        receivers, outage_seqs, resumed.result()
    )
    for conn in [s.conn for s in senders] + receivers:
        await conn.close()
    return result


async def wait_delivered(senders: list[Sender], receivers: list[Conn]) -> float | None:
    """Wait until B's devices have every event, or nothing arrived for STALL_S; return when."""
    last, changed = -1, time.monotonic()
    while True:
        have = sum(len(set(r.seqs)) for r in receivers)
        if have >= sum(s.accepted for s in senders):
            return time.monotonic()
        if have != last:
            last, changed = have, time.monotonic()
        elif time.monotonic() - changed > STALL_S:
            return None
        await asyncio.sleep(POLL_S)


def outage_catch_up(receivers: list[Conn], seqs: list[range], resumed: float) -> float | None:
    """Return when the last event committed during the outage reached B, after the resume."""
    times = [r.arrived.get(seq) for r, rng in zip(receivers, seqs, strict=True) for seq in rng]
    if not times or None in times:
        return None
    return round(max(t for t in times if t is not None) - resumed, 2)


def summarise(
    args: argparse.Namespace,
    senders: list[Sender],
    receivers: list[Conn],
    instances: list[Instance],
    began: float,
    resumed: float,
) -> dict[str, Any]:
    """Collect the figures of one run."""
    replies = [r for s in senders for r in s.replies]
    before = [lat for sent, lat in replies if sent < began]
    during = [lat for sent, lat in replies if began <= sent < resumed]
    after = [lat for sent, lat in replies if sent >= resumed]
    return {
        "mode": args.mode,
        "outage_s": args.hang_s,
        "users": args.users,
        "commands_per_s": args.rate,
        "reply_latency_before": latency_summary(before),
        "reply_latency_during": latency_summary(during),
        "reply_latency_after": latency_summary(after),
        "delivery_on_B": delivery_summary(senders, receivers),
        "delivery_on_A": delivery_summary(senders, [s.conn for s in senders]),
        "readiness": {
            inst.name: {
                "not_ready_s_after_outage": _round(inst.not_ready_at),
                "ready_s_after_resume": _round(inst.ready_again_at),
                "reasons": sorted(inst.reasons),
            }
            for inst in instances
        },
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def main() -> None:
    """Parse the command line, run one outage and print its figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", required=True, help="a migrated or empty PostgreSQL")
    parser.add_argument("--mode", choices=["hang", "kill"], default="hang")
    parser.add_argument("--hang-s", type=float, default=5.0, help="length of the outage")
    parser.add_argument("--users", type=int, default=10, help="senders on A, devices on B")
    parser.add_argument("--rate", type=float, default=100.0, help="commands/s over all senders")
    parser.add_argument("--warmup-s", type=float, default=2.0)
    parser.add_argument("--after-s", type=float, default=3.0, help="sending after the resume")
    parser.add_argument("--sweep-s", type=float, default=60.0, help="HUB_SWEEP_S of both")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        redis, env = prepare(args, Path(workdir))
        try:
            result = asyncio.run(run(args, redis, env))
        finally:
            redis.kill()
    (RESULTS_DIR / f"redis_outage-{args.mode}.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
