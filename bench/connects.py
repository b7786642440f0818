"""Authenticated connects per second beside the floor's bare aiohttp connects, back to back.

Each pair runs ../shared/bench/floor_idle_conns.py for one step of ``--clients``
bare connects, then reconnects ``--clients`` devices to a real server: upgrade,
hello, ``auth`` with a token and a resume cursor at its topic's head, ``ready``.
Usage: .venv/bin/python bench/connects.py [--mode postgres|embedded] (see bench/README.md)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import uvloop
from rawws import RawSocket, open_socket
from ws_fanout import (
    RESULTS_DIR,
    ROOT,
    client_session,
    cpu_snapshot,
    gc_between,
    gc_pauses,
    gc_summary,
    raise_nofile_limit,
    server_log_problems,
    start_stack,
    wait_ready,
)

from server.auth.embedded import EmbeddedIssuer

FLOOR = ROOT.parent / "shared" / "bench" / "floor_idle_conns.py"
READY_TIMEOUT_S = 120.0
# Times a device turned away by admission comes back before it gives up.
RETRIES = 20


class Device:
    """One user's device: its token and its cursor on its own topic."""

    def __init__(self, user: str, token: str) -> None:
        self.user = user
        self.token = token
        self.cursor: int | None = None
        self.sock: RawSocket | None = None
        self.ready: asyncio.Future[float] | None = None
        self.refused: list[dict[str, Any]] = []

    @property
    def topic(self) -> str:
        """Return the device's home topic."""
        return f"user:{self.user}"

    def on_frame(self, sock: RawSocket, frame: dict[str, Any]) -> None:
        """Answer hello with auth; settle ``ready`` on the ready frame (or an error)."""
        kind = frame.get("type")
        if kind == "hello":
            resume = {} if self.cursor is None else {self.topic: self.cursor}
            sock.send({"type": "auth", "token": self.token, "resume": resume})
        elif kind == "ready":
            self.cursor = frame["topics"][self.topic]["seq"]
            if self.ready is not None and not self.ready.done():
                self.ready.set_result(time.monotonic())
        elif kind == "error":
            self.refused.append(frame["error"])
            if self.ready is not None and not self.ready.done():
                self.ready.set_exception(ConnectionError(str(frame["error"])))

    async def connect(self, port: int) -> float:
        """Connect and wait for ready; return when it came. Turned away by admission,
        come back after the ``retry_after_ms`` the server said (as the client module does)."""
        for _ in range(RETRIES):
            self.ready = asyncio.get_running_loop().create_future()
            self.sock = await open_socket(port, self.on_frame)
            try:
                return await asyncio.wait_for(self.ready, READY_TIMEOUT_S)
            except ConnectionError:
                retry_after_ms = self.refused[-1].get("details", {}).get("retry_after_ms")
                if self.refused[-1].get("code") != "unavailable" or retry_after_ms is None:
                    raise
                self.drop()
                await asyncio.sleep(retry_after_ms / 1000)
        raise ConnectionError(f"turned away {RETRIES} times")

    def drop(self) -> None:
        """Reset the socket."""
        if self.sock is not None:
            self.sock.abort()
            self.sock = None


async def connect_all(devices: list[Device], port: int, concurrency: int) -> list[Any]:
    """Connect every device with at most ``concurrency`` connects under way."""
    gate = asyncio.Semaphore(concurrency)

    async def one(device: Device) -> float:
        async with gate:
            return await device.connect(port)

    return await asyncio.gather(*(one(d) for d in devices), return_exceptions=True)


async def project_pass(devices: list[Device], server: Any, concurrency: int) -> dict[str, Any]:
    """Reconnect every device (cursor at head), timing it and the server's CPU."""
    turned_away = -sum(len(d.refused) for d in devices)
    async with client_session() as session:
        gc_before = await gc_pauses(session, server)
        before, t0 = cpu_snapshot(server), time.monotonic()
        results = await connect_all(devices, server.port, concurrency)
        turned_away += sum(len(d.refused) for d in devices)
        wall, after = time.monotonic() - t0, cpu_snapshot(server)
        gc = gc_between(gc_before, await gc_pauses(session, server))
    failed = [r for r in results if not isinstance(r, float)]
    for device in devices:
        device.drop()
    await asyncio.sleep(1.0)  # let the server let go of them before the next pass
    n = len(devices) - len(failed)
    return {
        "connects_per_s": round(n / wall, 1),
        "server_cpu_ms_per_connect": round((after.server_s - before.server_s) * 1e3 / max(n, 1), 3),
        "client_cpu_ms_per_connect": round((after.load_s - before.load_s) * 1e3 / max(n, 1), 3),
        "pg_redis_cpu_ms_per_connect": round(
            (after.services_s - before.services_s) * 1e3 / max(n, 1), 3
        ),
        "other_cpu_cores": round(
            (
                (after.busy_s - before.busy_s)
                - (after.server_s - before.server_s)
                - (after.services_s - before.services_s)
                - (after.load_s - before.load_s)
            )
            / wall,
            3,
        ),
        "failed": len(failed),
        "turned_away": turned_away,
        "first_failure": repr(failed[0]) if failed else None,
        "server_gc": gc,
    }


def floor_pass(clients: int, concurrency: int) -> dict[str, Any]:
    """Run the floor's bare connects for one step of ``clients``; return its figures."""
    args = [sys.executable, str(FLOOR), "--steps", str(clients), "--heartbeats", "0"]
    args += ["--connect-concurrency", str(concurrency), "--idle-s", "1", "--settle-s", "0.5"]
    args += ["--echo-sample", "10"]
    with subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    ) as run:
        server_cpu_s = floor_server_cpu_s(run)
        out, _ = run.communicate(timeout=600)
    step = json.loads(out.strip().splitlines()[-1])["passes"][0]["steps"][0]
    return {
        "connects_per_s": step["connect_per_s"],
        # Its whole life (start-up, the connects, a second of idling): an upper bound.
        "server_cpu_ms_per_connect": round(server_cpu_s * 1e3 / clients, 3),
        "failed": step["connect_errors"],
        "other_cpu_cores": step["box_busy_cores_during_idle"],
    }


def floor_server_cpu_s(run: subprocess.Popen[str]) -> float:
    """Follow the floor's server process (its child) and return its CPU when it ended."""
    used = 0.0
    while run.poll() is None:
        with contextlib.suppress(psutil.Error):
            for child in psutil.Process(run.pid).children():
                times = child.cpu_times()
                used = max(used, times.user + times.system)
        time.sleep(0.05)
    return used


async def seed(devices: list[Device], port: int, concurrency: int) -> None:
    """Sign every user in once (creating them) and keep their cursors."""
    results = await connect_all(devices, port, concurrency)
    failed = [r for r in results if not isinstance(r, float)]
    if failed:
        raise RuntimeError(f"{len(failed)} seed connects failed, first: {failed[0]!r}")
    for device in devices:
        device.drop()
    await asyncio.sleep(1.0)


def server_log(name: str) -> Path:
    """Return where the server of run ``name`` logs: ``bench/results/<name>-server.log``."""
    return RESULTS_DIR / f"{name}-server.log"


async def start_with_devices(
    stack: contextlib.AsyncExitStack,
    args: argparse.Namespace,
    name: str,
    prefix: str = "bench-conn",
    extra_env: dict[str, str] | None = None,
) -> tuple[Any, list[Device]]:
    """Start a server (its log ``server_log(name)``) and return it with ``--clients``
    devices of users ``<prefix>-<n>``, none of them signed in yet."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    log_path = server_log(name)
    log_path.unlink(missing_ok=True)
    server, secret = await start_stack(stack, args.mode, log_path, extra_env=extra_env)
    async with client_session() as session:
        await wait_ready(session, server)
    issuer = EmbeddedIssuer(secret.encode())
    users = [f"{prefix}-{i:05d}" for i in range(args.clients)]
    return server, [Device(u, issuer.mint(u, ttl_s=6 * 3600)) for u in users]


async def start_seeded(
    stack: contextlib.AsyncExitStack,
    args: argparse.Namespace,
    name: str,
    extra_env: dict[str, str] | None = None,
) -> tuple[Any, list[Device]]:
    """Start a server, sign ``--clients`` users in once, and return it and their devices."""
    server, devices = await start_with_devices(stack, args, name, extra_env=extra_env)
    await seed(devices, server.port, args.concurrency)
    return server, devices


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Seed the users, then run the pairs."""
    pairs: list[dict[str, Any]] = []
    log_path = server_log(f"connects-{args.mode}")
    async with contextlib.AsyncExitStack() as stack:
        server, devices = await start_seeded(stack, args, f"connects-{args.mode}")
        for pair in range(args.pairs):
            floor = await asyncio.to_thread(floor_pass, args.clients, args.concurrency)
            project = await project_pass(devices, server, args.concurrency)
            ratio = round(project["connects_per_s"] / floor["connects_per_s"], 3)
            pairs.append({"pair": pair, "floor": floor, "project": project, "ratio": ratio})
            print(json.dumps(pairs[-1]), file=sys.stderr, flush=True)
        rss_mib = round(psutil.Process(server.proc.pid).memory_info().rss / 2**20, 1)
    return {
        "bench": "connects",
        "mode": args.mode,
        "clients": args.clients,
        "concurrency": args.concurrency,
        "pairs": pairs,
        "median_ratio": statistics.median(p["ratio"] for p in pairs),
        "median_server_cpu_ms_per_connect": statistics.median(
            p["project"]["server_cpu_ms_per_connect"] for p in pairs
        ),
        "server_rss_mib": rss_mib,
        "server_log_problems": server_log_problems(log_path)[:20],
    }


def report(result: dict[str, Any]) -> None:
    """Print one line per pair, then the summary."""
    print(f"{'pair':>4} {'floor/s':>8} {'project/s':>9} {'ratio':>6}", end=" ")
    print(f"{'floor cpu ms':>12} {'cpu ms':>7} {'other':>6}  server GC full / all: n, ms")
    for p in result["pairs"]:
        f, q = p["floor"], p["project"]
        print(
            f"{p['pair']:>4} {f['connects_per_s']:>8} {q['connects_per_s']:>9} {p['ratio']:>6}"
            f" {f['server_cpu_ms_per_connect']:>12} {q['server_cpu_ms_per_connect']:>7}"
            f" {f['other_cpu_cores']:>6}  {gc_summary(q['server_gc'])}"
        )
    print(
        f"median ratio {result['median_ratio']} (target >= 0.5); median server CPU per connect"
        f" {result['median_server_cpu_ms_per_connect']} ms (target < 1)"
    )


def connect_arguments(description: str | None, clients: int = 2000) -> argparse.ArgumentParser:
    """Return a parser with the options every connect benchmark takes."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--mode", choices=["postgres", "embedded"], default="postgres")
    parser.add_argument("--clients", type=int, default=clients)
    parser.add_argument("--concurrency", type=int, default=256)
    return parser


def main() -> None:
    """Parse arguments, run, print."""
    parser = connect_arguments(__doc__)
    parser.add_argument("--pairs", type=int, default=3)
    args = parser.parse_args()
    raise_nofile_limit()
    result = uvloop.run(run(args))
    (RESULTS_DIR / f"connects-{args.mode}.json").write_text(json.dumps(result, indent=1) + "\n")
    report(result)
    print(json.dumps(result, separators=(",", ":")))
    failed = any(p["project"]["failed"] for p in result["pairs"])
    sys.exit(1 if failed or result["server_log_problems"] else 0)


if __name__ == "__main__":
    main()
