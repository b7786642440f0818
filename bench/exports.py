"""Timer export beside the floor: 1,000,000 timers as CSV, server RSS growth, /health meanwhile.

Run (the database is a scratch one: its tables are dropped and rebuilt when the
seed is not there yet):

    .venv/bin/python bench/exports.py --database-url postgresql://postgres@127.0.0.1:5432/scratch

Each round runs the floor (``../shared/bench/floor_rest_export.py --formats csv``:
a bare asyncpg cursor -> csv.writer -> aiohttp stream of the same number of
rows, in a schema ``floor`` of the same database) and then ``GET
/v1/export/timers.csv`` of one user with ``--timers`` timers, back to back, so
both see the same machine. Prints one line per run, a summary and, last, one
JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import secrets
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import psutil
from export_floor import run_floor, seed_floor
from export_seed import USER, ensure_seed

from server.auth.embedded import EmbeddedIssuer

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
FLOOR = ROOT.parent / "shared" / "bench" / "floor_rest_export.py"
HEALTH_EVERY_S = 0.02
READY_TIMEOUT_S = 30


@dataclass
class Server:
    """The server subprocess."""

    proc: subprocess.Popen[bytes]
    port: int

    @property
    def ps(self) -> psutil.Process:
        """Return the psutil handle of the server."""
        return psutil.Process(self.proc.pid)


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(url: str, secret: str, log: Path) -> Server:
    """Start ``python -m server serve`` from this checkout on PostgreSQL."""
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": url,
        "AUTH_SIGNING_SECRET": secret,
        "LOG_LEVEL": "WARNING",
        "DATA_DIR": str(RESULTS / "export-data"),
    }
    env.pop("REDIS_URL", None)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "server", "serve", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
    return Server(proc, port)


def stop_server(server: Server) -> None:
    """Stop the server: SIGTERM, SIGKILL after 10 s."""
    if server.proc.poll() is None:
        server.proc.terminate()
        try:
            server.proc.wait(10)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait()


async def wait_ready(session: aiohttp.ClientSession, server: Server) -> None:
    """Poll /v1/health/ready until it answers 200."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"server exited with {server.proc.returncode}")
        with contextlib.suppress(aiohttp.ClientError):
            async with session.get(f"http://127.0.0.1:{server.port}/v1/health/ready") as resp:
                if resp.status == 200:
                    return
        await asyncio.sleep(0.2)
    raise RuntimeError("server not ready")


# ----------------------------------------------------------------------------- /health poller


def health_main(port: int, started: Any, stop: Any, out: Any) -> None:
    """Child process: GET /health every 20 ms until ``stop``; send the latencies (ms)."""

    async def poll() -> list[float]:
        found = []
        async with aiohttp.ClientSession() as session:
            url = f"http://127.0.0.1:{port}/health"
            async with session.get(url) as resp:  # connect before the export starts
                await resp.read()
            started.set()
            while not stop.is_set():
                start = time.perf_counter()
                async with session.get(url) as resp:
                    await resp.read()
                found.append((time.perf_counter() - start) * 1000)
                await asyncio.sleep(HEALTH_EVERY_S)
        return found

    out.send(asyncio.run(poll()))


class HealthPoller:
    """The /health poller in its own process, so the export's client does not delay it."""

    def __init__(self, port: int) -> None:
        ctx = mp.get_context("spawn")
        self.started, self.stop = ctx.Event(), ctx.Event()
        self.recv, send = ctx.Pipe(duplex=False)
        args = (port, self.started, self.stop, send)
        self.proc = ctx.Process(target=health_main, args=args, daemon=True)

    def __enter__(self) -> HealthPoller:
        self.proc.start()
        if not self.started.wait(30):
            raise RuntimeError("the /health poller did not start")
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.proc.is_alive():
            self.stop.set()
            self.proc.join(10)

    def latencies(self) -> list[float]:
        """Stop polling and return the latencies."""
        self.stop.set()
        found: list[float] = self.recv.recv()
        self.proc.join(10)
        return found


# ----------------------------------------------------------------------------- one export


def busy_s() -> float:
    """Return the machine's busy CPU seconds so far (all cores)."""
    t = psutil.cpu_times()
    return t.user + t.nice + t.system + getattr(t, "irq", 0) + getattr(t, "softirq", 0)


def cpu_s(proc: psutil.Process) -> float:
    """Return a process's user + system CPU seconds."""
    t = proc.cpu_times()
    return t.user + t.system


def postgres_cpu() -> dict[int, float]:
    """Return the CPU seconds of every postgres process by pid (other users' work included)."""
    found = {}
    for proc in psutil.process_iter(["name"]):
        if proc.info["name"] and proc.info["name"].startswith("postgres"):
            with contextlib.suppress(psutil.Error):
                found[proc.pid] = cpu_s(proc)
    return found


def postgres_cpu_since(before: dict[int, float]) -> float:
    """Return the postgres CPU seconds spent since ``before`` by the processes alive now."""
    return sum(now - before.get(pid, 0.0) for pid, now in postgres_cpu().items())


async def sample_rss(server: Server, peak: list[int], done: asyncio.Event) -> None:
    """Keep the server's peak RSS in ``peak[0]`` until ``done``."""
    while not done.is_set():
        peak[0] = max(peak[0], server.ps.memory_info().rss)
        await asyncio.sleep(0.02)


async def download(session: aiohttp.ClientSession, url: str, token: str) -> dict[str, Any]:
    """GET an export; count its lines and bytes as they come."""
    start = time.perf_counter()
    ttfb = None
    lines = size = 0
    tail = b""
    async with session.get(url, headers={"Authorization": f"Bearer {token}"}) as resp:
        resp.raise_for_status()
        async for chunk in resp.content.iter_chunked(1 << 20):
            ttfb = ttfb or time.perf_counter() - start
            lines += chunk.count(b"\n")
            size += len(chunk)
            tail = chunk[-2:]
    wall = time.perf_counter() - start
    return {
        "wall_s": wall,
        "ttfb_ms": (ttfb or 0) * 1000,
        "lines": lines,
        "bytes": size,
        "tail": tail,
    }


async def one_export(session: aiohttp.ClientSession, server: Server, token: str) -> dict[str, Any]:
    """Export the bench user's timers once, measuring the server meanwhile."""
    ps = server.ps
    rss0 = ps.memory_info().rss
    peak, done = [rss0], asyncio.Event()
    cpu0, pg0, busy0 = cpu_s(ps), postgres_cpu(), busy_s()
    client0 = cpu_s(psutil.Process())
    with HealthPoller(server.port) as poller:
        sampler = asyncio.create_task(sample_rss(server, peak, done))
        got = await download(session, f"http://127.0.0.1:{server.port}/v1/export/timers.csv", token)
        done.set()
        await sampler
        health = poller.latencies()
    wall = got["wall_s"]
    rows = got["lines"] - 1
    server_cpu, pg_cpu = cpu_s(ps) - cpu0, postgres_cpu_since(pg0)
    client_cpu = cpu_s(psutil.Process()) - client0
    return {
        "rows": rows,
        "complete": got["tail"] == b"\r\n",
        "wall_s": round(wall, 2),
        "rows_per_s": round(rows / wall),
        "mb_per_s": round(got["bytes"] / wall / 2**20, 1),
        "ttfb_ms": round(got["ttfb_ms"], 1),
        "rss_before_mb": round(rss0 / 2**20, 1),
        "rss_growth_mb": round((peak[0] - rss0) / 2**20, 1),
        "health_n": len(health),
        "health_p50_ms": round(statistics.median(health), 2) if health else None,
        "health_p99_ms": round(percentile(health, 0.99), 2) if health else None,
        "health_max_ms": round(max(health), 2) if health else None,
        "cpu_cores": {
            "server": round(server_cpu / wall, 2),
            "client": round(client_cpu / wall, 2),
            "postgres_all": round(pg_cpu / wall, 2),
            "other": round(max(0.0, busy_s() - busy0 - server_cpu - pg_cpu - client_cpu) / wall, 2),
        },
    }


def percentile(values: list[float], q: float) -> float:
    """Return the nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def idle_health(server: Server, seconds: float = 3.0) -> dict[str, Any]:
    """Return /health latency with no export running: what the machine gives any request now."""
    with HealthPoller(server.port) as poller:
        await asyncio.sleep(seconds)
        found = poller.latencies()
    return {
        "health_p50_ms": round(statistics.median(found), 2),
        "health_max_ms": round(max(found), 2),
    }


# ----------------------------------------------------------------------------- main


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    """Seed, then run the floor and the product's export back to back, ``--rounds`` times."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    seed = await ensure_seed(args.database_url, args.timers)
    await seed_floor(args.floor, args.database_url, args.timers)
    print(f"seed: {seed}", file=sys.stderr, flush=True)
    secret = secrets.token_urlsafe(32)
    token = EmbeddedIssuer(secret.encode()).mint(USER, ttl_s=3600)
    server = start_server(args.database_url, secret, RESULTS / "exports-server.log")
    rounds = []
    try:
        timeout = aiohttp.ClientTimeout(total=args.timeout)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            await wait_ready(session, server)
            await one_export(session, server, token)  # warm-up: pool, plans, page cache
            for index in range(args.rounds):
                floor = await run_floor(args.floor, args.database_url, args.timers)
                idle = await idle_health(server)
                ours = await one_export(session, server, token)
                ratio = round(ours["rows_per_s"] / floor["rows_per_s"], 2)
                rounds.append(
                    {"round": index, "floor": floor, "idle": idle, "export": ours, "ratio": ratio}
                )
                print(json.dumps(rounds[-1]), file=sys.stderr, flush=True)
    finally:
        stop_server(server)
    return {
        "bench": "exports",
        "timers": args.timers,
        "seed": seed,
        "rounds": rounds,
        "summary": summarize(rounds),
    }


def summarize(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the medians over rounds and the targets."""

    def med(path: tuple[str, str]) -> float:
        return statistics.median(r[path[0]][path[1]] for r in rounds)

    ratio = statistics.median(r["ratio"] for r in rounds)
    growth = max(r["export"]["rss_growth_mb"] for r in rounds)
    health = max(r["export"]["health_max_ms"] or 0 for r in rounds)
    return {
        "floor_rows_per_s": med(("floor", "rows_per_s")),
        "export_rows_per_s": med(("export", "rows_per_s")),
        "ratio_median": ratio,
        "rss_growth_mb_max": growth,
        "health_p50_ms_median": med(("export", "health_p50_ms")),
        "health_max_ms": health,
        "idle_health_p50_ms_median": med(("idle", "health_p50_ms")),
        "idle_health_max_ms": max(r["idle"]["health_max_ms"] for r in rounds),
        "all_rows": all(
            r["export"]["complete"] and r["export"]["rows"] == r["floor"]["rows"] for r in rounds
        ),
        "targets_met": ratio >= 0.5 and growth < 50 and health < 50,
    }


def main() -> None:
    """Parse the arguments, run, print."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL"),
        help="a scratch PostgreSQL database (BENCH_DATABASE_URL)",
    )
    parser.add_argument("--timers", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--floor", type=Path, default=FLOOR)
    parser.add_argument("--timeout", type=float, default=600.0, help="per export, seconds")
    args = parser.parse_args()
    if not args.database_url:
        parser.error("give --database-url (or BENCH_DATABASE_URL): a scratch PostgreSQL database")
    result = asyncio.run(bench(args))
    (RESULTS / "exports.json").write_text(json.dumps(result, indent=1) + "\n")
    s = result["summary"]
    print(
        f"floor {s['floor_rows_per_s']:,.0f} rows/s | export {s['export_rows_per_s']:,.0f} rows/s "
        f"| ratio {s['ratio_median']} (target >= 0.5) | RSS growth max {s['rss_growth_mb_max']} MB "
        f"(< 50) | /health p50 {s['health_p50_ms_median']} ms, max {s['health_max_ms']} ms (< 50)"
        f" | idle /health p50 {s['idle_health_p50_ms_median']} ms, max {s['idle_health_max_ms']} ms"
    )
    print(json.dumps(result, separators=(",", ":")))


if __name__ == "__main__":
    main()
