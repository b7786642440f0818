"""Idle authenticated connections held by one server process, for a while.

Starts a server as ``ws_fanout.py`` does, connects ``--clients`` devices (upgrade,
``hello``, ``auth``, ``ready``; each user is created at its first sign-in),
``--concurrency`` at a time, then holds them all idle for ``--hold-seconds``:
longer than the heartbeat, so the server pings every one and the lean client
(``rawws.py``) answers. It reports the connections the server counts as ready
and those that ended, the server's RSS growth per connection, and the server's
CPU while they idle.
Usage: .venv/bin/python bench/idle_hold.py [--clients 19000] [--hold-seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from typing import Any

import psutil
import uvloop
from connects import connect_all, connect_arguments, server_log, start_with_devices
from prometheus_client.parser import text_string_to_metric_families
from ws_fanout import (
    RESULTS_DIR,
    client_session,
    process_cpu_s,
    raise_nofile_limit,
    scrape,
    server_log_problems,
)


async def ready_connections(session: Any, server: Any) -> int:
    """Return the server's count of authenticated open connections (``hipster_connections``)."""
    for family in text_string_to_metric_families(await scrape(session, server)):
        if family.name == "hipster_connections":
            return int(sum(s.value for s in family.samples if s.labels["state"] == "ready"))
    return 0


def rss_mib(pid: int) -> float:
    """Return a process's resident memory in MiB."""
    return psutil.Process(pid).memory_info().rss / 2**20


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Connect every device, hold them idle, then read what is left."""
    name = f"idle_hold-{args.mode}"
    async with contextlib.AsyncExitStack() as stack:
        server, devices = await start_with_devices(stack, args, name, prefix="bench-idle")
        session = await stack.enter_async_context(client_session())
        pid = server.proc.pid
        rss_before, t0 = rss_mib(pid), time.monotonic()
        results = await connect_all(devices, server.port, args.concurrency)
        connect_s = time.monotonic() - t0
        failed = [r for r in results if not isinstance(r, float)]
        await asyncio.sleep(5.0)  # let the last sign-ins' work settle before reading
        rss_held, ready_start = rss_mib(pid), await ready_connections(session, server)
        cpu0, t1 = process_cpu_s(pid), time.monotonic()
        await asyncio.sleep(args.hold_seconds)
        idle_cpu = (process_cpu_s(pid) - cpu0) / (time.monotonic() - t1)
        ready_end = await ready_connections(session, server)
        ended = sum(1 for d in devices if d.sock is not None and d.sock.lost.done())
        held = len(devices) - len(failed)
        for device in devices:
            device.drop()
    return {
        "bench": "idle_hold",
        "mode": args.mode,
        "clients": args.clients,
        "hold_seconds": args.hold_seconds,
        "failed_connects": len(failed),
        "first_failure": repr(failed[0]) if failed else None,
        "connect_s": round(connect_s, 1),
        "ready_at_start": ready_start,
        "ready_at_end": ready_end,
        "ended_while_idle": ended,
        "rss_before_mib": round(rss_before, 1),
        "rss_held_mib": round(rss_held, 1),
        "kib_per_connection": round((rss_held - rss_before) * 1024 / max(held, 1), 1),
        "idle_cpu_cores": round(idle_cpu, 4),
        "server_log_problems": server_log_problems(server_log(name))[:20],
    }


def main() -> None:
    """Parse arguments, run, print."""
    parser = connect_arguments(__doc__, clients=19_000)
    parser.add_argument("--hold-seconds", type=float, default=60.0)
    args = parser.parse_args()
    raise_nofile_limit()
    result = uvloop.run(run(args))
    (RESULTS_DIR / f"idle_hold-{args.mode}.json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    ok = (
        not result["failed_connects"]
        and result["ready_at_end"] == args.clients
        and not result["ended_while_idle"]
        and not result["server_log_problems"]
    )
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
