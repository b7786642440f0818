"""Reconnect storm: an instance dies and its clients all come back to another one at once.

Two instances (A, B) on one fresh PostgreSQL database and Redis. ``--storm``
clients sit on A, ``--live`` on B. Mutations (``user.update``) go on at
``--rate`` throughout, to live users and to some of the storm's users. A is
killed (SIGKILL); every storm client reconnects to B at once with its cursor.
Prints the time until the last is ``ready``, p50/p99 time to ``ready``, the
events the storm's clients missed meanwhile (0 lost, 0 duplicated, checked
against the log's heads), and the live clients' delivery latency during the storm
(measured in a process of their own).
Usage: .venv/bin/python bench/reconnect_storm.py (see bench/README.md)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import multiprocessing as mp
import os
import random
import secrets
import sys
import tempfile
import time
import traceback
from collections import Counter
from multiprocessing.connection import Connection as Pipe
from pathlib import Path
from typing import Any

import asyncpg
import uvloop
from rawws import RawSocket, open_socket
from ws_fanout import (
    PG_URL_BASE,
    RESULTS_DIR,
    Sender,
    Server,
    ask,
    client_session,
    cpu_snapshot,
    create_database,
    gc_between,
    gc_pauses,
    gc_summary,
    migrate,
    percentile,
    raise_nofile_limit,
    server_env,
    server_log_problems,
    start_server,
    wait_ready,
)

from server.auth.embedded import EmbeddedIssuer

READY_TIMEOUT_S = 300.0
SETTLE_STALL_S = 10.0
GIVE_UP_S = 600.0


class Device:
    """One client: its topic's cursor, every seq it got there, when it was ready."""

    def __init__(self, user: str, token: str) -> None:
        self.user = user
        self.token = token
        self.topic = f"user:{user}"
        self.first: int | None = None  # the cursor of its first ready
        self.cursor: int | None = None
        self.seqs: list[int] = []
        self.latencies_ns: list[tuple[int, int]] = []  # (received at, latency)
        self.sock: RawSocket | None = None
        self.ready: asyncio.Future[float] | None = None
        self.retry_after_ms: int | None = None
        self.turned_away = 0
        self.failures = 0
        self.replayed = 0  # events that came before a ready (missed while away)
        self.results = Counter[str]()

    def on_frame(self, sock: RawSocket, frame: dict[str, Any]) -> None:
        """Follow the protocol: auth on hello, cursors from events and ready."""
        kind = frame.get("type")
        if kind == "event":
            self._event(frame)
        elif kind == "hello":
            resume = {} if self.cursor is None else {self.topic: self.cursor}
            sock.send({"type": "auth", "token": self.token, "resume": resume})
        elif kind == "ready":
            self._ready(frame)
        elif kind == "result":
            self.results["ok" if frame["ok"] else frame["error"]["code"]] += 1
        elif kind == "error":
            self.retry_after_ms = frame["error"]["details"].get("retry_after_ms")

    def _event(self, frame: dict[str, Any]) -> None:
        if frame["topic"] != self.topic:
            return
        self.seqs.append(frame["seq"])
        self.cursor = frame["seq"]
        if self.ready is not None and not self.ready.done():
            self.replayed += 1
        name = frame["data"].get("display_name", "")
        if frame["name"] == "user.updated" and name.startswith("t"):
            now = time.time_ns()
            self.latencies_ns.append((now, now - int(name[1:])))

    def _ready(self, frame: dict[str, Any]) -> None:
        self.cursor = frame["topics"][self.topic]["seq"]
        if self.first is None:
            self.first = self.cursor
        if self.ready is not None and not self.ready.done():
            self.ready.set_result(time.monotonic())

    async def connect(self, port: int) -> float:
        """Connect until ready, waiting as told when turned away; return when ready came."""
        while True:
            self.ready = asyncio.get_running_loop().create_future()
            self.retry_after_ms = None
            try:
                self.sock = await open_socket(port, self.on_frame)
            except OSError:
                self.failures += 1
                await asyncio.sleep(0.2 + random.random() * 0.3)
                continue
            await asyncio.wait([self.ready, self.sock.lost], return_when=asyncio.FIRST_COMPLETED)
            if self.ready.done():
                return self.ready.result()
            if self.retry_after_ms is not None:
                self.turned_away += 1
                await asyncio.sleep(self.retry_after_ms / 1000)
            else:
                self.failures += 1
                await asyncio.sleep(0.2 + random.random() * 0.3)

    def update_name(self, ident: int) -> None:
        """Send one user.update whose display name carries the send time."""
        data = {"display_name": f"t{time.time_ns()}"}
        assert self.sock is not None
        self.sock.send({"id": ident, "type": "user.update", "data": data})


def make_devices(prefix: str, count: int, per_user: int, issuer: EmbeddedIssuer) -> list[Device]:
    """Return ``count`` devices, ``per_user`` to a user."""
    users = [f"{prefix}-{i:05d}" for i in range(-(-count // per_user))]
    tokens = {user: issuer.mint(user, ttl_s=6 * 3600) for user in users}
    return [Device(users[i // per_user], tokens[users[i // per_user]]) for i in range(count)]


async def connect_all(devices: list[Device], port: int, concurrency: int) -> None:
    """Connect devices, ``concurrency`` at a time."""
    gate = asyncio.Semaphore(concurrency)

    async def one(device: Device) -> None:
        async with gate:
            await asyncio.wait_for(device.connect(port), READY_TIMEOUT_S)

    await asyncio.gather(*(one(d) for d in devices))


async def send_updates(senders: list[Device], rate: float, stop: asyncio.Event) -> int:
    """Send user.update at ``rate`` a second, round-robin over ``senders``, until ``stop``."""
    ids = itertools.count(1)
    start, sent = time.monotonic(), 0
    for sender in itertools.cycle(senders):
        if stop.is_set():
            return sent
        if sender.sock is not None and not sender.sock.lost.done():
            sender.update_name(next(ids))
            sent += 1
        delay = start + sent / rate - time.monotonic()
        await asyncio.sleep(max(0.0, delay))
    return sent


async def storm(storm_devices: list[Device], a: Server, b: Server) -> dict[str, Any]:
    """Kill A; reconnect every storm device to B; return when each was ready."""
    lost = [d.sock.lost for d in storm_devices if d.sock is not None]
    killed_at = time.monotonic()
    a.proc.kill()
    await asyncio.wait_for(asyncio.gather(*lost), 30)
    readies = await asyncio.wait_for(
        asyncio.gather(*(d.connect(b.port) for d in storm_devices)), GIVE_UP_S
    )
    times_ns = sorted(int((t - killed_at) * 1e9) for t in readies)
    return {
        "killed_at": killed_at,
        "last_ready_s": round(times_ns[-1] / 1e9, 2),
        "ready_p50_ms": round(percentile(times_ns, 50)),
        "ready_p99_ms": round(percentile(times_ns, 99)),
        "turned_away": sum(d.turned_away for d in storm_devices),
        "clients_turned_away": sum(1 for d in storm_devices if d.turned_away),
        "connect_failures": sum(d.failures for d in storm_devices),
    }


async def topic_heads(db_url: str, topics: set[str]) -> dict[str, int]:
    """Read every topic's head seq from the event log."""
    conn = await asyncpg.connect(db_url)
    try:
        rows = await conn.fetch(
            "SELECT topic, seq FROM topic_heads WHERE topic = ANY($1::text[])", list(topics)
        )
    finally:
        await conn.close()
    return dict.fromkeys(topics, 0) | {row["topic"]: row["seq"] for row in rows}


async def settle(devices: list[Device], heads: dict[str, int]) -> None:
    """Wait until every device's cursor reached its head, or nothing moved for a while."""
    last, moved = -1, time.monotonic()
    while time.monotonic() - moved < SETTLE_STALL_S:
        behind = sum(1 for d in devices if (d.cursor or 0) < heads[d.topic])
        if not behind:
            return
        if behind != last:
            last, moved = behind, time.monotonic()
        await asyncio.sleep(0.1)


def delivery(devices: list[Device], heads: dict[str, int]) -> dict[str, int]:
    """Count lost and duplicated events against the log: every seq after the first ready."""
    lost = duplicated = expected = 0
    for d in devices:
        want = set(range((d.first or 0) + 1, heads[d.topic] + 1))
        counts = Counter(d.seqs)
        expected += len(want)
        lost += len(want - counts.keys())
        duplicated += sum(n - 1 for n in counts.values() if n > 1)
    return {"expected": expected, "lost": lost, "duplicated": duplicated}


async def watch_loop_lag(lags: list[tuple[int, int]], stop: asyncio.Event) -> None:
    """Record how late this (the load) process's loop wakes from a 20 ms sleep: a late
    receive is late here, not at the server, by up to that much."""
    while not stop.is_set():
        asked = time.monotonic()
        await asyncio.sleep(0.02)
        lags.append((time.time_ns(), int((time.monotonic() - asked - 0.02) * 1e9)))


def loop_lag(lags: list[tuple[int, int]], start_ns: int, end_ns: int) -> dict[str, Any]:
    """Return a load process's loop lag in [start, end): p50, p99, max in ms."""
    values = sorted(v for at, v in lags if start_ns <= at < end_ns)
    return {
        "p50_ms": round(percentile(values, 50), 2),
        "p99_ms": round(percentile(values, 99), 2),
        "max_ms": round(values[-1] / 1e6, 2) if values else None,
    }


def latency(devices: list[Device], start_ns: int, end_ns: int) -> dict[str, Any]:
    """Return delivery latency of the live devices' events received in [start, end)."""
    values = sorted(v for d in devices for at, v in d.latencies_ns if start_ns <= at < end_ns)
    return {
        "events": len(values),
        "p50_ms": round(percentile(values, 50), 2),
        "p99_ms": round(percentile(values, 99), 2),
        "max_ms": round(values[-1] / 1e6, 2) if values else None,
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Set up both instances and the clients, run the storm, check delivery."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    logs = {name: RESULTS_DIR / f"reconnect_storm-{name}.log" for name in "AB"}
    for path in logs.values():
        path.unlink(missing_ok=True)
    async with contextlib.AsyncExitStack() as stack:
        data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="storm-")))
        db_name = await create_database(stack)
        secret = "bench-secret-" + secrets.token_hex(24)
        env = server_env("postgres", data_dir, secret, db_name)
        await migrate(env, logs["A"])
        a = await start_server(stack, env, logs["A"])
        b = await start_server(stack, env, logs["B"])
        async with client_session() as session:
            await wait_ready(session, a)
            await wait_ready(session, b)
        result = await run_storm(args, secret, a, b, PG_URL_BASE + db_name)
        result["server_log_problems"] = {
            name: server_log_problems(path)[:10] for name, path in logs.items()
        }
    return result


async def run_storm(
    args: argparse.Namespace, secret: str, a: Server, b: Server, db_url: str
) -> dict[str, Any]:
    """Connect everyone, mutate, kill A, measure, check."""
    stormed = make_devices("storm", args.storm, args.per_user, EmbeddedIssuer(secret.encode()))
    mutated = sorted({d.user for d in stormed[:: args.per_user][: args.mutated_users]})
    t0 = time.monotonic()
    live = await start_live(args, b.port, secret, mutated)
    try:
        await connect_all(stormed, a.port, args.concurrency)
        print(f"connected in {time.monotonic() - t0:.1f} s", file=sys.stderr, flush=True)
        return await measure_storm(args, live, stormed, a, b, db_url)
    finally:
        await live.stop()


async def measure_storm(
    args: argparse.Namespace,
    live: Sender,
    stormed: list[Device],
    a: Server,
    b: Server,
    db_url: str,
) -> dict[str, Any]:
    """Mutate throughout; kill A and time the storm; then check every client's events."""
    stop = asyncio.Event()
    lags: list[tuple[int, int]] = []
    watcher = asyncio.ensure_future(watch_loop_lag(lags, stop))
    await tell(live, "pump", None)
    await asyncio.sleep(args.warmup_s)
    async with client_session() as session:
        gc0 = await gc_pauses(session, b)
        cpu0, before_ns = cpu_snapshot(b), time.time_ns()
        warm_ns = before_ns - int(args.warmup_s * 1e9)
        figures = await storm(stormed, a, b)
        cpu1, after_ns = cpu_snapshot(b), time.time_ns()
        gc_storm = gc_between(gc0, await gc_pauses(session, b))
    await asyncio.sleep(args.after_s)
    end_ns = time.time_ns()
    halted = await tell(live, "halt", None)
    stop.set()
    await watcher
    heads = await topic_heads(db_url, {d.topic for d in stormed} | set(halted["topics"]))
    await settle(stormed, heads)
    seen = await tell(live, "report", (heads, [warm_ns, before_ns, after_ns, end_ns]))
    return {
        "bench": "reconnect_storm",
        "config": vars(args),
        "storm": {k: v for k, v in figures.items() if k != "killed_at"},
        "server_B_cpu_ms_per_reconnect": round(
            (cpu1.server_s - cpu0.server_s) * 1e3 / len(stormed), 3
        ),
        "server_B_gc_during_storm": gc_storm,
        "updates_sent": halted["sent"],
        "update_results": halted["update_results"],
        "missed_during_storm": {
            "replayed": sum(d.replayed for d in stormed),
            **delivery(stormed, heads),
        },
        **seen,
        "storm_loop_lag_before_storm": loop_lag(lags, warm_ns, before_ns),
        "storm_loop_lag_during_storm": loop_lag(lags, before_ns, after_ns),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


# --------------------------------------------------------------------------- the live clients


async def start_live(
    args: argparse.Namespace, port: int, secret: str, mutated: list[str]
) -> Sender:
    """Start the live clients' process and wait until its clients are ready on B."""
    ctx = mp.get_context("spawn")
    ours, theirs = ctx.Pipe()
    config = {**vars(args), "mutated": mutated}
    proc = ctx.Process(target=live_main, args=(theirs, port, secret, config), daemon=True)
    proc.start()
    live = Sender(proc, ours)
    await ask(live, READY_TIMEOUT_S)
    return live


async def tell(live: Sender, kind: str, arg: Any) -> Any:
    """Send the live process one request; return its answer."""
    live.busy = True
    live.pipe.send((kind, arg))
    return (await ask(live, GIVE_UP_S))[1]


def live_main(pipe: Pipe, port: int, secret: str, config: dict[str, Any]) -> None:
    """Entry point of the live clients' process; failures go back to the parent as text."""
    raise_nofile_limit()
    try:
        uvloop.run(live_serve(pipe, port, secret, config))
    except BaseException:
        pipe.send(("error", traceback.format_exc()))


async def live_serve(pipe: Pipe, port: int, secret: str, config: dict[str, Any]) -> None:
    """B's own clients and the mutators, in a process of their own: the storm's process
    stalls while its 10,000 sockets drop and come back, and a delivery received
    there would be late there, not at the server."""
    issuer = EmbeddedIssuer(secret.encode())
    live = make_devices("live", config["live"], config["per_user"], issuer)
    senders = [Device(u, issuer.mint(u, ttl_s=6 * 3600)) for u in config["mutated"]]
    await connect_all(live + senders, port, config["concurrency"])
    pipe.send(("ready", None))
    live_senders = live[:: config["per_user"]][: config["mutated_users"]]
    stop, lags = asyncio.Event(), list[tuple[int, int]]()
    await asyncio.to_thread(pipe.recv)  # pump
    rate = config["rate"] / 2
    pumps = [
        asyncio.ensure_future(send_updates(group, rate, stop)) for group in (live_senders, senders)
    ]
    watcher = asyncio.ensure_future(watch_loop_lag(lags, stop))
    pipe.send(("pumping", None))
    await asyncio.to_thread(pipe.recv)  # halt
    stop.set()
    sent = sum(await asyncio.gather(*pumps))
    await watcher
    results = sum((d.results for d in live_senders + senders), Counter[str]())
    topics = sorted({d.topic for d in live + senders})
    pipe.send(("halted", {"sent": sent, "update_results": dict(results), "topics": topics}))
    _kind, (heads, (warm_ns, before_ns, after_ns, end_ns)) = await asyncio.to_thread(pipe.recv)
    await settle(live + senders, heads)
    windows = {"before": (warm_ns, before_ns), "during": (before_ns, after_ns)}
    seen = {
        "live_delivery": delivery(live, heads),
        **{f"live_latency_{k}_storm": latency(live, *w) for k, w in windows.items()},
        "live_latency_after_storm": latency(live, after_ns, end_ns),
        **{f"live_loop_lag_{k}_storm": loop_lag(lags, *w) for k, w in windows.items()},
    }
    pipe.send(("report", seen))
    await asyncio.to_thread(pipe.recv)  # stop
    for device in live + senders:
        if device.sock is not None:
            device.sock.abort()


def report(result: dict[str, Any]) -> None:
    """Print the figures a reader looks for first."""
    s, m, cfg = result["storm"], result["missed_during_storm"], result["config"]
    print(f"storm: {cfg['storm']} clients to an instance holding {cfg['live']}")
    print(f"last ready after {s['last_ready_s']} s", end="; ")
    print(f"time to ready p50 {s['ready_p50_ms']} ms, p99 {s['ready_p99_ms']} ms")
    print(f"turned away {s['turned_away']} times ({s['clients_turned_away']} clients)", end="; ")
    print(f"connect failures {s['connect_failures']}")
    print(f"B CPU per reconnect {result['server_B_cpu_ms_per_reconnect']} ms", end="; ")
    gc = gc_summary(result["server_B_gc_during_storm"])
    print(f"B's GC during the storm, full / all: n, ms {gc}")
    print(f"storm clients' events: {m['replayed']} replayed at reconnect", end="; ")
    print(f"{m['expected']} expected in all, {m['lost']} lost, {m['duplicated']} duplicated")
    for phase in ("before", "during", "after"):
        lat = result[f"live_latency_{phase}_storm"]
        print(f"live delivery {phase} the storm: {lat['events']} events", end=", ")
        print(f"p50 {lat['p50_ms']} ms, p99 {lat['p99_ms']} ms")
    for who in ("live", "storm"):
        for phase in ("before", "during"):
            lag = result[f"{who}_loop_lag_{phase}_storm"]
            print(f"the {who} clients' process's own loop lag {phase} the storm", end=": ")
            print(f"p50 {lag['p50_ms']} ms, p99 {lag['p99_ms']} ms, max {lag['max_ms']} ms")


def main() -> None:
    """Parse arguments, run, print."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--storm", type=int, default=10_000, help="clients on A, all reconnecting")
    parser.add_argument("--live", type=int, default=5_000, help="clients already on B")
    parser.add_argument("--per-user", type=int, default=2, help="devices per user")
    parser.add_argument(
        "--mutated-users", type=int, default=500, help="storm and live users changed"
    )
    parser.add_argument("--rate", type=float, default=50.0, help="user.update commands/s in all")
    parser.add_argument(
        "--concurrency", type=int, default=256, help="connects at once while seeding"
    )
    parser.add_argument("--warmup-s", type=float, default=3.0)
    parser.add_argument("--after-s", type=float, default=3.0)
    args = parser.parse_args()
    raise_nofile_limit()
    result = uvloop.run(run(args))
    (RESULTS_DIR / "reconnect_storm.json").write_text(json.dumps(result, indent=1) + "\n")
    report(result)
    print(json.dumps(result, separators=(",", ":")))
    m, live = result["missed_during_storm"], result["live_delivery"]
    ok = not (m["lost"] or m["duplicated"] or live["lost"] or live["duplicated"])
    sys.exit(0 if ok and not any(result["server_log_problems"].values()) else 1)


if __name__ == "__main__":
    main()
