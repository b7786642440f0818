"""WebSocket fan-out benchmark: idle memory per connection, mutation throughput, delivery latency.

One load process holds every receiving device; separate sender processes mutate timers.
Usage: .venv/bin/python bench/ws_fanout.py --mode both   (see bench/README.md)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import itertools
import json
import math
import multiprocessing as mp
import os
import resource
import secrets
import signal
import socket
import sys
import tempfile
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection as Pipe
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import asyncpg
import orjson
import psutil
import uvloop
from prometheus_client.parser import text_string_to_metric_families
from rawws import RawSocket, authenticate, refusal, until_admitted

from server.auth.embedded import EmbeddedIssuer

# The local Redis Cluster of --mode cluster is the tests' own.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.rediscluster import LocalCluster, free_cluster_ports

T = TypeVar("T")

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
SERVER_BIN = str(Path(sys.executable).parent / "hipster-timer")
PG_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_URL_BASE = "postgresql://postgres@127.0.0.1:5432/"
REDIS_URL = "redis://127.0.0.1:6379/0"
# Modes on PostgreSQL: with one Redis, or with a Redis Cluster.
SERVICE_MODES = ("postgres", "cluster")
TOKEN_TTL_S = 6 * 3600
CONNECT_CONCURRENCY = 50
READY_TIMEOUT_S = 60.0
SENDER_READY_TIMEOUT_S = 180.0
PHASE_TIMEOUT_S = 900.0
STALL_S = 10.0
STOP_GRACE_S = 10.0
CLOSE_TIMEOUT_S = 15.0
TOGGLES = ("timer.paused", "timer.resumed")
TEXT = aiohttp.WSMsgType.TEXT


@dataclass(frozen=True)
class Config:
    """Command-line settings of one benchmark run."""

    devices: int
    per_user: int
    senders: int
    mutations: int
    rate: float | None
    window: int
    latency_seconds: float
    idle_seconds: float
    redis_cluster: list[str]

    @property
    def users(self) -> list[str]:
        """Return the user ids: devices / per_user of them."""
        return [f"bench-user-{i:04d}" for i in range(self.devices // self.per_user)]


# --------------------------------------------------------------------------- shared helpers


def raise_nofile_limit() -> None:
    """Raise this process's open-file soft limit to the hard limit."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def client_session() -> aiohttp.ClientSession:
    """Return a client session without a cap on simultaneous connections."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))


def split(total: int, parts: int) -> list[int]:
    """Split ``total`` into ``parts`` near-equal non-negative integers."""
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


async def bounded(gate: asyncio.Semaphore, work: Awaitable[T]) -> T:
    """Await ``work`` while holding ``gate``."""
    async with gate:
        return await work


async def gather_bounded(works: Iterable[Awaitable[T]], limit: int) -> list[T]:
    """Await all ``works`` with at most ``limit`` running at once."""
    gate = asyncio.Semaphore(limit)
    return list(await asyncio.gather(*(bounded(gate, w) for w in works)))


async def receive_frame(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    """Read one JSON text frame, or raise when the socket ends."""
    msg = await ws.receive(timeout=30)
    if msg.type != TEXT:
        raise ConnectionError(f"socket ended: {msg.type!r} {msg.data!r} close_code={ws.close_code}")
    frame: dict[str, Any] = orjson.loads(msg.data)
    return frame


async def open_authenticated(
    session: aiohttp.ClientSession, port: int, token: str
) -> tuple[aiohttp.ClientWebSocketResponse, dict[str, Any]]:
    """Connect, read hello, authenticate and return the socket with its ready frame;
    a client turned away by admission comes back when it was told to."""
    return await until_admitted(lambda: _open_authenticated_once(session, port, token))


async def _open_authenticated_once(
    session: aiohttp.ClientSession, port: int, token: str
) -> tuple[aiohttp.ClientWebSocketResponse, dict[str, Any]]:
    ws = await session.ws_connect(f"http://127.0.0.1:{port}/v1/ws", autoping=True)
    hello = await receive_frame(ws)
    if hello.get("type") != "hello":
        raise ConnectionError(f"expected hello, got {hello}")
    await ws.send_str(orjson.dumps({"type": "auth", "token": token}).decode())
    while True:
        frame = await receive_frame(ws)
        if frame.get("type") == "ready":
            return ws, frame
        if frame.get("type") != "event":
            await ws.close()
            raise refusal(frame)


async def close_sockets(sockets: Sequence[aiohttp.ClientWebSocketResponse]) -> None:
    """Close every socket, giving up after CLOSE_TIMEOUT_S."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(CLOSE_TIMEOUT_S):
            await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)


async def wait_until(count: Callable[[], int], target: int, stall_s: float) -> None:
    """Wait until ``count()`` reaches ``target`` or stops growing for ``stall_s`` s."""
    loop = asyncio.get_running_loop()
    last, changed = -1, loop.time()
    while (now := count()) < target:
        if now != last:
            last, changed = now, loop.time()
        elif loop.time() - changed > stall_s:
            return
        await asyncio.sleep(0.05)


# --------------------------------------------------------------------------- sender processes


class SenderConn:
    """One sender socket of one user: its timer, its window of outstanding commands, counters."""

    def __init__(self, user: str, window: int) -> None:
        self.sock: RawSocket | None = None
        self.user = user
        self.window = window
        self.timer_id = ""
        self.ids = itertools.count(1)
        self.paused = False
        self.replies: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.slots = asyncio.Semaphore(window)
        self.target = 0
        self.ok = 0
        self.failed = 0
        self.events = 0
        self.errors: list[str] = []
        self.last_result_ns = 0
        self.settled = asyncio.Event()
        self.close_code: int | None = None

    def begin(self, target: int) -> None:
        """Reset the per-phase counters for a phase of ``target`` commands."""
        self.slots = asyncio.Semaphore(self.window)
        self.target, self.ok, self.failed, self.events = target, 0, 0, 0
        self.errors, self.last_result_ns = [], 0
        self.settled.clear()
        if target == 0 or self.close_code is not None:
            self.settled.set()

    def take(self, _sock: RawSocket, frame: dict[str, Any]) -> None:
        """File one frame from the server."""
        kind = frame.get("type")
        if kind == "event":
            self.events += 1
        elif kind == "result":
            self.take_result(frame)

    def take_result(self, frame: dict[str, Any]) -> None:
        """Count a command's result and free its window slot."""
        future = self.replies.pop(frame.get("id"), None)  # type: ignore[arg-type]
        if future is not None:
            future.set_result(frame)
            return
        self.last_result_ns = time.time_ns()
        if frame.get("ok"):
            self.ok += 1
        else:
            self.failed += 1
            if len(self.errors) < 5:
                self.errors.append(orjson.dumps(frame.get("error")).decode())
        self.slots.release()
        if self.ok + self.failed >= self.target:
            self.settled.set()

    def ended(self, code: int | None) -> None:
        """Record that the socket closed and unblock everything waiting on it."""
        self.close_code = code
        for _ in range(self.window):
            self.slots.release()
        self.settled.set()

    async def send(self, type_: str, data: dict[str, Any], op_id: str | None = None) -> int:
        """Send one command; return its id."""
        cid = next(self.ids)
        frame = {"id": cid, "type": type_, "data": data}
        if op_id is not None:
            frame["op_id"] = op_id
        self.write(frame)
        return cid

    def write(self, frame: dict[str, Any]) -> None:
        """Send one frame (the socket's own buffer takes it)."""
        assert self.sock is not None
        self.sock.send(frame)

    async def call(self, type_: str, data: dict[str, Any]) -> dict[str, Any]:
        """Send one command and wait for its result frame."""
        cid = next(self.ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.replies[cid] = future
        self.write({"id": cid, "type": type_, "data": data})
        async with asyncio.timeout(30):
            return await future


async def open_sender_conn(port: int, token: str, user: str, window: int) -> SenderConn:
    """Open one user's sender socket and start one running timer on it."""
    conn = SenderConn(user, window)
    conn.sock, _ready = await authenticate(port, token, conn.take)
    conn.sock.lost.add_done_callback(lambda lost: conn.ended(lost.result()))
    reply = await conn.call("timer.start", {"allocated_ms": 3_600_000, "title": "bench"})
    if not reply.get("ok"):
        raise RuntimeError(f"timer.start failed for {user}: {reply}")
    conn.timer_id = reply["data"]["id"]
    return conn


async def pump_toggles(conn: SenderConn, count: int) -> None:
    """Send ``count`` alternating timer.pause / timer.resume, at most ``window`` outstanding,
    each with an op_id as every command of the client module has (and the latency run's)."""
    for n in range(count):
        await conn.slots.acquire()
        if conn.close_code is not None:
            return
        await send_toggle(conn, n)


async def send_toggle(conn: SenderConn, n: int) -> int:
    """Send the user's timer.pause or timer.resume, whichever is next, with an op_id that
    carries its send time; return the send time in ns."""
    sent_ns = time.time_ns()
    verb = "timer.resume" if conn.paused else "timer.pause"
    conn.paused = not conn.paused
    await conn.send(verb, {"id": conn.timer_id}, op_id=timed_op_id(sent_ns, n))
    return sent_ns


def timed_op_id(send_ns: int, n: int) -> str:
    """Return an op_id (a UUID) whose first 16 hex digits are the send time in ns."""
    return str(uuid.UUID(f"{send_ns:016x}{n:016x}"))


def sent_ns_of(op_id: str) -> int:
    """Return the send time ``timed_op_id`` put in ``op_id``."""
    return int(op_id.replace("-", "")[:16], 16)


async def pace_toggles(conns: Sequence[SenderConn], count: int, rate: float) -> tuple[int, int]:
    """Send ``count`` pause/resume round-robin at ``rate``/s, each with an op_id carrying
    its send time (its event brings it back to every device)."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    first = last = 0
    for i in range(count):
        delay = start + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        last = await send_toggle(conns[i % len(conns)], i)
        first = first or last
    return first, last


async def settle(conns: Sequence[SenderConn]) -> None:
    """Wait for every result of the phase, then for the senders' own copies of the events."""
    async with asyncio.timeout(PHASE_TIMEOUT_S):
        await asyncio.gather(*(c.settled.wait() for c in conns))
    await wait_until(lambda: sum(c.events for c in conns), sum(c.ok for c in conns), STALL_S / 2)


def process_cpu_s(pid: int | None = None) -> float:
    """Return the user+system CPU seconds a process (default: this one) used so far."""
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def phase_stats(conns: Sequence[SenderConn], first_send_ns: int, cpu0: float) -> dict[str, Any]:
    """Summarize one phase of this sender process."""
    return {
        "ok": sum(c.ok for c in conns),
        "failed": sum(c.failed for c in conns),
        "sender_events": sum(c.events for c in conns),
        "first_send_ns": first_send_ns,
        "last_result_ns": max((c.last_result_ns for c in conns), default=0),
        "errors": [e for c in conns for e in c.errors][:5],
        "closed": sorted({str(c.close_code) for c in conns if c.close_code is not None}),
        "cpu_s": process_cpu_s() - cpu0,
    }


async def run_toggles(conns: Sequence[SenderConn], count: int) -> dict[str, Any]:
    """Throughput phase of one sender process: ``count`` pause/resume as fast as possible."""
    cpu0, shares = process_cpu_s(), split(count, len(conns))
    for conn, share in zip(conns, shares, strict=True):
        conn.begin(share)
    first = time.time_ns()
    await asyncio.gather(*(pump_toggles(c, n) for c, n in zip(conns, shares, strict=True)))
    await settle(conns)
    return phase_stats(conns, first, cpu0)


async def run_paced(conns: Sequence[SenderConn], count: int, rate: float) -> dict[str, Any]:
    """Latency phase of one sender process: ``count`` paced pause/resume commands."""
    cpu0 = process_cpu_s()
    for conn, share in zip(conns, split(count, len(conns)), strict=True):
        conn.begin(share)
    first, last = await pace_toggles(conns, count, rate)
    await settle(conns)
    return {**phase_stats(conns, first, cpu0), "last_send_ns": last}


async def open_sender_conns(
    port: int, secret: str, users: Sequence[str], window: int
) -> list[SenderConn]:
    """Open one sender socket per user, each with its running timer."""
    issuer = EmbeddedIssuer(secret.encode())
    works = (open_sender_conn(port, issuer.mint(u, ttl_s=TOKEN_TTL_S), u, window) for u in users)
    return await gather_bounded(works, CONNECT_CONCURRENCY)


async def run_phase(conns: Sequence[SenderConn], kind: str, arg: Any) -> dict[str, Any]:
    """Run one phase the parent asked for: ``throughput`` (a count) or ``latency``."""
    return await (run_toggles(conns, arg) if kind == "throughput" else run_paced(conns, *arg))


def drop_sender_conns(conns: Sequence[SenderConn]) -> None:
    """Abort every sender socket."""
    for conn in conns:
        if conn.sock is not None:
            conn.sock.abort()


async def sender_serve(pipe: Pipe, port: int, secret: str, users: list[str], window: int) -> None:
    """Open the sender sockets, then run the phases the parent asks for until told to stop."""
    conns = await open_sender_conns(port, secret, users, window)
    pipe.send(("ready", {"connections": len(conns)}))
    while (request := await asyncio.to_thread(pipe.recv))[0] != "stop":
        pipe.send(("done", await run_phase(conns, *request)))
    drop_sender_conns(conns)


def sender_main(pipe: Pipe, port: int, secret: str, users: list[str], window: int) -> None:
    """Entry point of a sender process; failures go back to the parent as text."""
    raise_nofile_limit()
    try:
        uvloop.run(sender_serve(pipe, port, secret, users, window))
    except BaseException:
        pipe.send(("error", traceback.format_exc()))


# --------------------------------------------------------------------------- receiving devices


class Device:
    """One receiving socket (the lean client of ``rawws``, as the floor's devices use) and
    the last seq it saw on its user's topic."""

    def __init__(self, user: str, tally: Tally) -> None:
        self.topic = f"user:{user}"
        self.tally = tally
        self.seq = 0
        self.sock: RawSocket | None = None

    def on_frame(self, sock: RawSocket, frame: dict[str, Any]) -> None:
        """File one frame received after ready."""
        self.tally.take(self, time.time_ns(), frame, sock.frame_size)

    async def connect(self, port: int, token: str) -> None:
        """Open the socket, authenticate, and count a close the server makes later."""
        self.sock, ready = await authenticate(port, token, self.on_frame)
        self.seq = int(ready["topics"][self.topic]["seq"])
        self.sock.lost.add_done_callback(lambda lost: self.tally.closed(lost.result()))


class Tally:
    """What every receiving device got: events by name, seq gaps, latencies, closes."""

    def __init__(self) -> None:
        self.names: dict[str, int] = {}
        self.event_bytes = 0
        self.gaps = 0
        self.duplicates = 0
        self.other = 0
        self.latencies_ns: list[int] = []
        self.closes: dict[str, int] = {}
        self.stopping = False

    def reset(self) -> None:
        """Forget the counts of earlier phases (closes are kept)."""
        self.names, self.gaps, self.duplicates, self.other, self.latencies_ns = {}, 0, 0, 0, []
        self.event_bytes = 0

    def count(self, names: Iterable[str]) -> int:
        """Return how many events of ``names`` arrived."""
        return sum(self.names.get(n, 0) for n in names)

    def take(self, dev: Device, now_ns: int, frame: dict[str, Any], size: int) -> None:
        """File one frame of ``size`` bytes a device received at ``now_ns``."""
        if frame.get("type") != "event" or frame.get("topic") != dev.topic:
            self.other += 1
            return
        self.check_seq(dev, int(frame["seq"]))
        self.event_bytes += size
        name = frame["name"]
        self.names[name] = self.names.get(name, 0) + 1
        if frame.get("op_id"):  # the benchmark's carry their send time
            self.latencies_ns.append(now_ns - sent_ns_of(frame["op_id"]))

    def check_seq(self, dev: Device, seq: int) -> None:
        """Count gaps and repeats in a device's seq stream."""
        if seq <= dev.seq:
            self.duplicates += 1
            return
        self.gaps += seq - dev.seq - 1
        dev.seq = seq

    def closed(self, code: int | None) -> None:
        """Record a device socket the server closed."""
        if not self.stopping:
            self.closes[str(code)] = self.closes.get(str(code), 0) + 1


class Fleet:
    """The receiving devices of the load process."""

    def __init__(self) -> None:
        self.tally = Tally()
        self.devices: list[Device] = []

    async def add(self, port: int, token: str, user: str) -> None:
        """Open one device and authenticate it."""
        dev = Device(user, self.tally)
        self.devices.append(dev)
        await dev.connect(port, token)

    async def connect(
        self, session: aiohttp.ClientSession, port: int, secret: str, cfg: Config
    ) -> None:
        """Open ``per_user`` devices for every user."""
        issuer = EmbeddedIssuer(secret.encode())
        tokens = {u: issuer.mint(u, ttl_s=TOKEN_TTL_S) for u in cfg.users}
        works = (self.add(port, tokens[u], u) for u in cfg.users for _ in range(cfg.per_user))
        await gather_bounded(works, CONNECT_CONCURRENCY)

    async def close(self) -> None:
        """Drop every device."""
        self.tally.stopping = True
        for dev in self.devices:
            if dev.sock is not None:
                dev.sock.abort()


# --------------------------------------------------------------------------- server and services


@dataclass
class Server:
    """The server subprocess and where its output goes."""

    proc: asyncio.subprocess.Process
    port: int
    log_path: Path
    metrics_port: int

    @property
    def ps(self) -> psutil.Process:
        """Return the psutil handle of the server process."""
        return psutil.Process(self.proc.pid)


def free_port() -> int:
    """Return a TCP port that is free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env(
    mode: str, data_dir: Path, secret: str, db_name: str | None, seeds: Sequence[str] = ()
) -> dict[str, str]:
    """Return the server's environment for ``mode`` (``seeds``: the Redis Cluster's)."""
    env = {
        **os.environ,
        "DATA_DIR": str(data_dir),
        "AUTH_SIGNING_SECRET": secret,
        "WS_CONNECT_PER_MIN": "1000000",
        "WS_CONNECT_BURST": "100000",
        "WS_RATE_PER_S": "100000",
        "WS_RATE_BURST": "100000",
        "LOG_LEVEL": "WARNING",
    }
    if mode in SERVICE_MODES:
        env |= {
            "DATABASE_URL": PG_URL_BASE + str(db_name),
            "REDIS_PREFIX": "bench" + secrets.token_hex(4),
        }
    if mode == "postgres":
        env["REDIS_URL"] = REDIS_URL
    if mode == "cluster":
        env["REDIS_CLUSTER_URL"] = ",".join(seeds)
    return env


async def pg_admin(sql: str) -> None:
    """Run one statement on the PostgreSQL maintenance database."""
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def create_database(stack: contextlib.AsyncExitStack) -> str:
    """Create a fresh bench database, dropped when ``stack`` unwinds; return its name."""
    name = "bench_" + secrets.token_hex(6)
    await pg_admin(f'CREATE DATABASE "{name}"')
    stack.push_async_callback(pg_admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return name


async def migrate(env: dict[str, str], log_path: Path) -> None:
    """Run `hipster-timer db upgrade` with ``env``; raise when it fails."""
    with log_path.open("ab") as log:
        proc = await asyncio.create_subprocess_exec(
            SERVER_BIN, "db", "upgrade", env=env, stdout=log, stderr=log
        )
        if await proc.wait() != 0:
            raise RuntimeError(f"db upgrade failed; see {log_path}")


async def stop_server(proc: asyncio.subprocess.Process) -> None:
    """Stop the server: SIGTERM, then SIGKILL after the grace period."""
    if proc.returncode is not None:
        return
    proc.terminate()
    try:
        await asyncio.wait_for(proc.wait(), STOP_GRACE_S)
    except TimeoutError:
        proc.kill()
        await proc.wait()


async def start_server(
    stack: contextlib.AsyncExitStack, env: dict[str, str], log_path: Path
) -> Server:
    """Start `hipster-timer serve` (its metrics on a port of its own), stopped when
    ``stack`` unwinds."""
    port, metrics_port = free_port(), free_port()
    env = {**env, "METRICS_HOST": "127.0.0.1", "METRICS_PORT": str(metrics_port)}
    with log_path.open("ab") as log:
        proc = await asyncio.create_subprocess_exec(
            SERVER_BIN,
            "serve",
            "--port",
            str(port),
            env=env,
            stdout=log,
            stderr=log,
            preexec_fn=raise_nofile_limit,
            start_new_session=True,
        )
    stack.push_async_callback(stop_server, proc)
    return Server(proc, port, log_path, metrics_port)


async def scrape(session: aiohttp.ClientSession, server: Server) -> str:
    """Return the server's metrics page."""
    url = f"http://127.0.0.1:{server.metrics_port}/metrics"
    async with session.get(url) as response:
        return await response.text()


async def gc_pauses(session: aiohttp.ClientSession, server: Server) -> dict[str, list[float]]:
    """Read the server's garbage-collection pauses so far: generation -> [count, ms]."""
    pauses: dict[str, list[float]] = {}
    for family in text_string_to_metric_families(await scrape(session, server)):
        if family.name != "hipster_gc_pause_seconds":
            continue
        for sample in family.samples:
            entry = pauses.setdefault(sample.labels["generation"], [0, 0.0])
            if sample.name.endswith("_count"):
                entry[0] = sample.value
            elif sample.name.endswith("_sum"):
                entry[1] = sample.value * 1e3
    return pauses


async def lane_writes(session: aiohttp.ClientSession, server: Server) -> dict[str, float]:
    """Read the write lane's counters so far (PostgreSQL): statements of more than one
    change, and the changes they wrote (0 and 0 where no lane runs)."""
    counts = {"batches": 0.0, "batched": 0.0}
    names = {"hipster_db_write_batches": "batches", "hipster_db_batched_writes": "batched"}
    for family in text_string_to_metric_families(await scrape(session, server)):
        if family.name in names:
            totals = [s.value for s in family.samples if s.name.endswith("_total")]
            counts[names[family.name]] = sum(totals)
    return counts


def lane_between(before: dict[str, float], after: dict[str, float], writes: int) -> dict[str, Any]:
    """Return what the lane did in a phase of ``writes`` accepted mutations."""
    batches = after["batches"] - before["batches"]
    batched = after["batched"] - before["batched"]
    return {
        "batches": int(batches),
        "batched": int(batched),
        "batched_share": round(batched / writes, 3) if writes else None,
    }


class LoadCollections:
    """Count this process's own collections (the devices'): a full one stalls every
    device's receive, and shows in the latency as if the server were slow."""

    def __init__(self) -> None:
        self._pauses = self._empty()
        self._started = 0.0

    @staticmethod
    def _empty() -> dict[str, dict[str, Any]]:
        return {str(g): {"count": 0, "ms": 0.0} for g in range(3)}

    def __enter__(self) -> LoadCollections:
        gc.callbacks.append(self._observe)
        return self

    def __exit__(self, *_exc: object) -> None:
        gc.callbacks.remove(self._observe)

    def _observe(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        entry = self._pauses[str(info["generation"])]
        entry["count"] += 1
        entry["ms"] = round(entry["ms"] + (time.perf_counter() - self._started) * 1000, 1)

    def take(self) -> dict[str, dict[str, Any]]:
        """Return the collections since the last call, and start counting afresh."""
        pauses, self._pauses = self._pauses, self._empty()
        return pauses


def gc_between(before: dict[str, list[float]], after: dict[str, list[float]]) -> dict[str, Any]:
    """Return the collections between two readings: count and ms, per generation."""
    return {
        gen: {
            "count": int(n - before.get(gen, [0, 0.0])[0]),
            "ms": round(ms - before.get(gen, [0, 0.0])[1], 1),
        }
        for gen, (n, ms) in sorted(after.items())
    }


async def wait_ready(session: aiohttp.ClientSession, server: Server) -> None:
    """Poll /v1/health/ready until it answers 200."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    url = f"http://127.0.0.1:{server.port}/v1/health/ready"
    while time.monotonic() < deadline:
        if server.proc.returncode is not None:
            raise RuntimeError(
                f"server exited with {server.proc.returncode}; see {server.log_path}"
            )
        with contextlib.suppress(aiohttp.ClientError):
            async with session.get(url) as resp:
                if resp.status == 200:
                    return
        await asyncio.sleep(0.2)
    raise RuntimeError(f"server not ready after {READY_TIMEOUT_S} s; see {server.log_path}")


def server_log_problems(log_path: Path) -> list[str]:
    """Return the server log lines that report errors."""
    markers = ("ERROR", "CRITICAL", "Traceback", "Exception")
    lines = log_path.read_text(errors="replace").splitlines() if log_path.exists() else []
    return [line for line in lines if any(m in line for m in markers)]


# --------------------------------------------------------------------------- orchestration


@dataclass
class Sender:
    """A sender process and the parent's end of its pipe."""

    proc: BaseProcess
    pipe: Pipe
    busy: bool = True

    async def run(self, kind: str, arg: Any) -> dict[str, Any]:
        """Run one phase in the process; return its statistics."""
        self.busy = True
        self.pipe.send((kind, arg))
        _kind, stats = await ask(self, PHASE_TIMEOUT_S)
        return dict(stats)

    async def stop(self) -> None:
        """Ask the process to stop if idle; terminate it if busy or late."""
        if not self.busy:
            with contextlib.suppress(OSError, ValueError):
                self.pipe.send(("stop", None))
            await asyncio.to_thread(self.proc.join, STOP_GRACE_S)
        if self.proc.is_alive():
            self.proc.terminate()
            await asyncio.to_thread(self.proc.join, STOP_GRACE_S)


@dataclass
class LocalSender:
    """Every sender socket held by the load process itself (``--senders 0``), as the floor's
    driver holds its senders beside its recipients."""

    conns: list[SenderConn]

    async def run(self, kind: str, arg: Any) -> dict[str, Any]:
        """Run one phase on this loop; its CPU is already the load process's."""
        return {**await run_phase(self.conns, kind, arg), "cpu_s": 0.0}

    async def stop(self) -> None:
        """Drop every sender socket."""
        drop_sender_conns(self.conns)


async def ask(sender: Sender, wait_s: float) -> tuple[str, Any]:
    """Wait (off the event loop, in short polls) up to ``wait_s`` s for one message of a sender."""
    deadline = time.monotonic() + wait_s
    while not await asyncio.to_thread(sender.pipe.poll, 0.5):
        if time.monotonic() > deadline:
            raise TimeoutError("a sender process did not answer in time")
    reply: tuple[str, Any] = sender.pipe.recv()
    sender.busy = False
    if reply[0] == "error":
        raise RuntimeError(f"sender process failed:\n{reply[1]}")
    return reply


async def stop_senders(senders: Sequence[Sender | LocalSender]) -> None:
    """Stop every sender."""
    await asyncio.gather(*(s.stop() for s in senders))


async def start_senders(
    stack: contextlib.AsyncExitStack, cfg: Config, port: int, secret: str
) -> list[Sender | LocalSender]:
    """Open the senders' sockets, in this process (``--senders 0``) or in sender processes
    (each owns a slice of the users), and wait until they are ready."""
    senders: list[Sender | LocalSender] = []
    stack.push_async_callback(stop_senders, senders)
    if not cfg.senders:
        senders.append(LocalSender(await open_sender_conns(port, secret, cfg.users, cfg.window)))
        return senders
    ctx = mp.get_context("spawn")
    procs: list[Sender] = []
    for i in range(cfg.senders):
        ours, theirs = ctx.Pipe()
        users = cfg.users[i :: cfg.senders]
        proc = ctx.Process(
            target=sender_main, args=(theirs, port, secret, users, cfg.window), daemon=True
        )
        proc.start()
        procs.append(Sender(proc, ours))
        senders.append(procs[-1])
    await asyncio.gather(*(ask(s, SENDER_READY_TIMEOUT_S) for s in procs))
    return senders


async def command_senders(
    senders: Sequence[Sender | LocalSender], kind: str, args: Sequence[Any]
) -> list[dict[str, Any]]:
    """Start one phase in every sender and return their statistics."""
    return list(await asyncio.gather(*(s.run(kind, a) for s, a in zip(senders, args, strict=True))))


@dataclass(frozen=True)
class CpuSnapshot:
    """CPU seconds used so far: server, PostgreSQL+Redis, this load process, the machine."""

    server_s: float
    services_s: float
    load_s: float
    busy_s: float
    total_s: float


def services_cpu_s() -> float:
    """Return the CPU seconds used so far by every PostgreSQL and Redis process."""
    total = 0.0
    for proc in psutil.process_iter(["name", "cpu_times"]):
        name, times = proc.info["name"] or "", proc.info["cpu_times"]
        if times is not None and name.startswith(("postgres", "redis")):
            total += times.user + times.system
    return total


def cpu_snapshot(server: Server) -> CpuSnapshot:
    """Take a CPU snapshot."""
    machine = psutil.cpu_times()._asdict()
    total = sum(v for k, v in machine.items() if not k.startswith("guest"))
    idle = machine["idle"] + machine.get("iowait", 0.0)
    return CpuSnapshot(
        process_cpu_s(server.proc.pid), services_cpu_s(), process_cpu_s(), total - idle, total
    )


def percentile(sorted_ns: Sequence[int], q: float) -> float:
    """Return the nearest-rank ``q`` percentile of sorted nanoseconds, in ms."""
    if not sorted_ns:
        return float("nan")
    rank = min(len(sorted_ns), max(1, math.ceil(q / 100 * len(sorted_ns)))) - 1
    return sorted_ns[rank] / 1e6


def merge_stats(stats: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Combine the statistics of all sender processes."""
    return {
        "ok": sum(s["ok"] for s in stats),
        "failed": sum(s["failed"] for s in stats),
        "sender_events": sum(s["sender_events"] for s in stats),
        "wall_s": (max(s["last_result_ns"] for s in stats) - min(s["first_send_ns"] for s in stats))
        / 1e9,
        "errors": [e for s in stats for e in s["errors"]][:5],
        "sender_closes": sorted({c for s in stats for c in s["closed"]}),
        "sender_cpu_s": sum(s["cpu_s"] for s in stats),
    }


async def measure_memory(
    fleet: Fleet, session: aiohttp.ClientSession, server: Server, cfg: Config, secret: str
) -> dict[str, Any]:
    """Connect the devices and return the server's RSS growth per idle connection."""
    before = server.ps.memory_info().rss
    started = time.monotonic()
    await fleet.connect(session, server.port, secret, cfg)
    connect_s = time.monotonic() - started
    await asyncio.sleep(cfg.idle_seconds)
    after = server.ps.memory_info().rss
    return {
        "rss_before_mib": round(before / 2**20, 1),
        "rss_after_mib": round(after / 2**20, 1),
        "kib_per_connection": round((after - before) / 1024 / len(fleet.devices), 1),
        "connect_s": round(connect_s, 2),
    }


async def throughput_phase(
    cfg: Config, senders: Sequence[Sender | LocalSender], server: Server, fleet: Fleet
) -> dict[str, Any]:
    """Run the mutations as fast as possible; measure rate, delivery and server CPU."""
    fleet.tally.reset()
    cpu0 = cpu_snapshot(server)
    merged = merge_stats(
        await command_senders(senders, "throughput", split(cfg.mutations, len(senders)))
    )
    expected = merged["ok"] * cfg.per_user
    await wait_until(lambda: fleet.tally.count(TOGGLES), expected, STALL_S)
    cpu1 = cpu_snapshot(server)
    lat = sorted(fleet.tally.latencies_ns)
    server_s, services_s = cpu1.server_s - cpu0.server_s, cpu1.services_s - cpu0.services_s
    load_s, busy_s = cpu1.load_s - cpu0.load_s + merged["sender_cpu_s"], cpu1.busy_s - cpu0.busy_s
    return {
        **merged,
        "mutations_per_s": round(merged["ok"] / merged["wall_s"], 1),
        "delivered": fleet.tally.count(TOGGLES),
        "expected": expected,
        "gaps": fleet.tally.gaps,
        "duplicates": fleet.tally.duplicates,
        "event_frame_bytes": round(fleet.tally.event_bytes / max(1, expected)),
        "p50_ms": round(percentile(lat, 50), 2),
        "p99_ms": round(percentile(lat, 99), 2),
        "server_cpu_us_per_mutation": round(server_s / max(1, merged["ok"]) * 1e6, 1),
        "pg_redis_cpu_us_per_mutation": round(services_s / max(1, merged["ok"]) * 1e6, 1),
        "load_cpu_s": round(load_s, 2),
        "unattributed_cpu_s": round(busy_s - server_s - services_s - load_s, 2),
        "machine_cpu_busy_pct": round(100 * busy_s / max(1e-9, cpu1.total_s - cpu0.total_s), 1),
    }


async def latency_phase(
    cfg: Config, senders: Sequence[Sender | LocalSender], fleet: Fleet, rate: float
) -> dict[str, Any]:
    """Send paced pause/resume commands and measure send-to-device latency."""
    fleet.tally.reset()
    count = max(len(senders), round(rate * cfg.latency_seconds))
    args = [(n, rate / len(senders)) for n in split(count, len(senders))]
    stats = await command_senders(senders, "latency", args)
    merged = merge_stats(stats)
    expected = merged["ok"] * cfg.per_user
    await wait_until(lambda: fleet.tally.count(TOGGLES), expected, STALL_S)
    sent_s = (max(s["last_send_ns"] for s in stats) - min(s["first_send_ns"] for s in stats)) / 1e9
    lat = sorted(fleet.tally.latencies_ns)
    return {
        "target_rate": round(rate, 1),
        "achieved_rate": round(count / sent_s, 1) if sent_s > 0 else None,
        "mutations": count,
        "ok": merged["ok"],
        "failed": merged["failed"],
        "errors": merged["errors"],
        "delivered": fleet.tally.count(TOGGLES),
        "expected": expected,
        "gaps": fleet.tally.gaps,
        "duplicates": fleet.tally.duplicates,
        "p50_ms": round(percentile(lat, 50), 2),
        "p99_ms": round(percentile(lat, 99), 2),
        "max_ms": round(lat[-1] / 1e6, 2) if lat else None,
    }


def start_cluster(stack: contextlib.AsyncExitStack, given: Sequence[str]) -> Sequence[str]:
    """Return the given Redis Cluster's seeds, or start three local masters until the run ends."""
    if given:
        return given
    workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ws_fanout-cluster-")))
    cluster = LocalCluster(workdir, free_cluster_ports())
    stack.callback(cluster.stop)
    cluster.start()
    return cluster.seeds


async def start_stack(
    stack: contextlib.AsyncExitStack,
    mode: str,
    log_path: Path,
    cluster: Sequence[str] = (),
    extra_env: Mapping[str, str] | None = None,
) -> tuple[Server, str]:
    """Create and migrate the database (service modes), start the server; return it, its
    secret. ``extra_env`` goes to the server and its migration (``PYTHONPATH``: other code)."""
    data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ws_fanout-")))
    db_name = await create_database(stack) if mode in SERVICE_MODES else None
    seeds = start_cluster(stack, cluster) if mode == "cluster" else ()
    secret = "bench-secret-" + secrets.token_hex(24)
    env = server_env(mode, data_dir, secret, db_name, seeds) | dict(extra_env or {})
    if mode in SERVICE_MODES:
        await migrate(env, log_path)
    return await start_server(stack, env, log_path), secret


async def run_mode(cfg: Config, mode: str) -> dict[str, Any]:
    """Run every measurement of one mode against a fresh server, always cleaning up."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    log_path = RESULTS_DIR / f"ws_fanout-{mode}-server.log"
    log_path.unlink(missing_ok=True)
    result: dict[str, Any] = {
        "mode": mode,
        "devices": cfg.devices,
        "users": len(cfg.users),
        "per_user": cfg.per_user,
        "senders": cfg.senders,
        "window": cfg.window,
        "server_log": str(log_path),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    async with contextlib.AsyncExitStack() as stack:
        server, secret = await start_stack(stack, mode, log_path, cfg.redis_cluster)
        session = await stack.enter_async_context(client_session())
        await wait_ready(session, server)
        senders = await start_senders(stack, cfg, server.port, secret)
        fleet = Fleet()
        stack.push_async_callback(fleet.close)
        result["memory"] = await measure_memory(fleet, session, server, cfg, secret)
        load_gc = stack.enter_context(LoadCollections())
        gc_start, lane_start = await gc_pauses(session, server), await lane_writes(session, server)
        result["throughput"] = await throughput_phase(cfg, senders, server, fleet)
        result["throughput"]["load_gc"] = load_gc.take()
        gc_mid, lane_mid = await gc_pauses(session, server), await lane_writes(session, server)
        rate = cfg.rate or result["throughput"]["mutations_per_s"] / 2
        cpu_before = cpu_snapshot(server)
        result["latency"] = await latency_phase(cfg, senders, fleet, rate)
        server_s = cpu_snapshot(server).server_s - cpu_before.server_s
        lat = result["latency"]
        lat["server_cpu_us_per_mutation"] = round(server_s / max(1, lat["ok"]) * 1e6, 1)
        lat["load_gc"] = load_gc.take()
        result["throughput"]["server_gc"] = gc_between(gc_start, gc_mid)
        lat["server_gc"] = gc_between(gc_mid, await gc_pauses(session, server))
        lane_end = await lane_writes(session, server)
        t = result["throughput"]
        t["lane"] = lane_between(lane_start, lane_mid, t["ok"])
        lat["lane"] = lane_between(lane_mid, lane_end, lat["ok"])
        result["device_closes"] = fleet.tally.closes
    result["server_exit_code"] = server.proc.returncode
    result["server_log_problems"] = server_log_problems(log_path)[:20]
    return result


# --------------------------------------------------------------------------- report


def gc_summary(pauses: dict[str, Any]) -> str:
    """Format full collections and all collections: count and ms each."""
    if not pauses:
        return "n/a"
    full = pauses.get("2", {"count": 0, "ms": 0.0})
    count = sum(p["count"] for p in pauses.values())
    ms = round(sum(p["ms"] for p in pauses.values()), 1)
    return f"{full['count']}, {full['ms']} / {count}, {ms}"


def fraction(got: int, expected: int) -> str:
    """Format delivered/expected."""
    return f"{got}/{expected}" + ("" if got == expected else " (!)")


def lane_summary(t: dict[str, Any], lat: dict[str, Any]) -> str:
    """Return the share of each run's writes the write lane batched."""
    shares = [phase.get("lane", {}).get("batched_share") for phase in (t, lat)]
    return " / ".join("-" if share is None else f"{share:.3f}" for share in shares)


def table_rows(r: dict[str, Any]) -> list[tuple[str, str]]:
    """Return the report's rows for one mode's result."""
    t, lat, mem = r["throughput"], r["latency"], r["memory"]
    return [
        ("devices (users x per user)", f"{r['devices']} ({r['users']} x {r['per_user']})"),
        ("mutations accepted / failed", f"{t['ok']} / {t['failed']}"),
        ("accepted mutations/s", f"{t['mutations_per_s']:.0f}"),
        ("delivered/expected (devices)", fraction(t["delivered"], t["expected"])),
        ("sender copies delivered/expected", fraction(t["sender_events"], t["ok"])),
        ("seq gaps / duplicates", f"{t['gaps']} / {t['duplicates']}"),
        ("event frame bytes (mean)", f"{t['event_frame_bytes']}"),
        ("throughput-run delivery p50 / p99 ms", f"{t['p50_ms']} / {t['p99_ms']}"),
        ("latency rate target/achieved /s", f"{lat['target_rate']:.0f} / {lat['achieved_rate']}"),
        ("latency delivered/expected", fraction(lat["delivered"], lat["expected"])),
        ("latency p50 / p99 / max ms", f"{lat['p50_ms']} / {lat['p99_ms']} / {lat['max_ms']}"),
        ("KiB per idle connection", f"{mem['kib_per_connection']}"),
        ("server RSS before/after MiB", f"{mem['rss_before_mib']} / {mem['rss_after_mib']}"),
        ("server CPU us/mutation", f"{t['server_cpu_us_per_mutation']}"),
        ("server CPU us/mutation (latency run)", f"{lat.get('server_cpu_us_per_mutation')}"),
        ("lane batched share (throughput / latency)", lane_summary(t, lat)),
        ("server GC full / all: n, ms (throughput)", gc_summary(t.get("server_gc", {}))),
        ("server GC full / all: n, ms (latency)", gc_summary(lat.get("server_gc", {}))),
        ("load GC full / all: n, ms (throughput)", gc_summary(t.get("load_gc", {}))),
        ("load GC full / all: n, ms (latency)", gc_summary(lat.get("load_gc", {}))),
        ("PostgreSQL+Redis CPU us/mutation", f"{t['pg_redis_cpu_us_per_mutation']}"),
        ("machine CPU busy % (throughput)", f"{t['machine_cpu_busy_pct']}"),
        ("CPU s: load gen / other procs", f"{t['load_cpu_s']} / {t['unattributed_cpu_s']}"),
        ("load average at start", " ".join(map(str, r["load_average_at_start"]))),
        ("server log error lines", f"{len(r['server_log_problems'])}"),
        (
            "devices closed by server",
            json.dumps(r["device_closes"]) if r["device_closes"] else "none",
        ),
    ]


def print_table(results: Sequence[dict[str, Any]]) -> None:
    """Print one column per mode."""
    rows = [table_rows(r) for r in results]
    header = ["figure", *(r["mode"] for r in results)]
    lines = [
        [label, *(mode_rows[i][1] for mode_rows in rows)] for i, (label, _v) in enumerate(rows[0])
    ]
    widths = [max(len(str(row[c])) for row in [header, *lines]) for c in range(len(header))]
    for row in [header, ["-" * w for w in widths], *lines]:
        print("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)))


def healthy(result: dict[str, Any]) -> bool:
    """Tell whether a run saw no lost events, failures, closes or server errors."""
    t, lat = result["throughput"], result["latency"]
    return (
        t["delivered"] == t["expected"]
        and lat["delivered"] == lat["expected"]
        and not t["failed"]
        and not lat["failed"]
        and not result["device_closes"]
        and not result["server_log_problems"]
    )


def save(result: dict[str, Any]) -> Path:
    """Write one mode's figures as JSON under bench/results/."""
    path = RESULTS_DIR / f"ws_fanout-{result['mode']}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path


# --------------------------------------------------------------------------- command line


def parse_args(argv: Sequence[str] | None) -> tuple[list[str], Config]:
    """Parse the command line into the modes to run and the configuration."""
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--mode",
        default="both",
        help="embedded, postgres (Redis), cluster (Redis Cluster), a comma-separated list "
        "run back to back, or both (embedded,postgres)",
    )
    p.add_argument(
        "--redis-cluster",
        default="",
        help="seed node URLs of a running Redis Cluster, comma-separated, for --mode cluster "
        "(default: start three local masters for the run)",
    )
    p.add_argument("--devices", type=int, default=1000, help="receiving WebSocket connections")
    p.add_argument("--per-user", type=int, default=10, help="devices per user")
    p.add_argument("--senders", type=int, default=2, help="sender processes")
    p.add_argument(
        "--mutations", type=int, default=20000, help="pause/resume commands in the throughput run"
    )
    p.add_argument(
        "--rate", type=float, help="latency run rate (default: half the measured throughput)"
    )
    p.add_argument(
        "--window", type=int, default=8, help="outstanding commands per sender connection"
    )
    p.add_argument("--latency-seconds", type=float, default=10.0, help="length of the latency run")
    p.add_argument(
        "--idle-seconds", type=float, default=2.0, help="idle time before the memory reading"
    )
    a = p.parse_args(argv)
    if (
        a.devices < a.per_user
        or a.devices % a.per_user
        or a.senders < 0
        or a.devices // a.per_user < a.senders
    ):
        p.error("--devices must be a multiple of --per-user, with at least one user per sender")
    modes = ["embedded", "postgres"] if a.mode == "both" else a.mode.split(",")
    if not modes or any(mode not in ("embedded", *SERVICE_MODES) for mode in modes):
        p.error("--mode takes embedded, postgres, cluster (comma-separated) or both")
    return modes, Config(
        a.devices,
        a.per_user,
        a.senders,
        a.mutations,
        a.rate,
        a.window,
        a.latency_seconds,
        a.idle_seconds,
        [seed.strip() for seed in a.redis_cluster.split(",") if seed.strip()],
    )


async def run_cancellable(cfg: Config, mode: str) -> dict[str, Any]:
    """Run one mode; SIGTERM cancels it so that cleanup still happens."""
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    return await run_mode(cfg, mode)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the requested modes, print the table and save the JSON figures."""
    modes, cfg = parse_args(argv)
    raise_nofile_limit()
    results = []
    for mode in modes:
        print(
            f"== {mode}: {cfg.devices} devices, {cfg.mutations} mutations, {cfg.senders} senders",
            flush=True,
        )
        try:
            # uvloop, as the floor's driver runs: the load shares the server's two cores.
            result = uvloop.run(run_cancellable(cfg, mode))
        except (KeyboardInterrupt, asyncio.CancelledError):
            print("interrupted; server stopped and bench database dropped", file=sys.stderr)
            return 130
        result["command"] = " ".join([sys.executable, *sys.argv])
        print(f"   saved {save(result)}", flush=True)
        print_table([result])
        results.append(result)
    if len(results) > 1:
        print()
        print_table(results)
    return 0 if all(healthy(r) for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
