"""Bulk REST read: 5,000 timers in one GET, and /health latency while it runs.

Run: .venv/bin/python bench/rest_bulk.py [--mode embedded|postgres|both] [--timers 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from ws_fanout import client_session, open_authenticated, start_stack, wait_ready

from server.auth.embedded import EmbeddedIssuer

RESULTS = Path(__file__).resolve().parent / "results"
WINDOW = 64
READS = 5


async def create_timers(ws: aiohttp.ClientWebSocketResponse, count: int) -> None:
    """Start ``count`` timers, keeping WINDOW commands in flight."""
    sent = done = 0
    while done < count:
        while sent < count and sent - done < WINDOW:
            sent += 1
            frame = {"id": sent, "type": "timer.start", "data": {"allocated_ms": 60_000}}
            await ws.send_str(orjson.dumps(frame).decode())
        msg = await ws.receive(timeout=30)
        if orjson.loads(msg.data).get("type") == "result":
            done += 1


async def timed_get(
    session: aiohttp.ClientSession, url: str, headers: dict[str, str]
) -> tuple[float, bytes]:
    """GET ``url``; return the seconds it took and the body (parsed later, so the
    health poller in this same loop is not held up by the client's own parsing)."""
    start = time.perf_counter()
    async with session.get(url, headers=headers) as resp:
        body = await resp.read()
    return time.perf_counter() - start, body


async def poll_health(session: aiohttp.ClientSession, url: str, stop: asyncio.Event) -> list[float]:
    """GET /health back to back until ``stop``; return each latency in ms."""
    latencies = []
    while not stop.is_set():
        start = time.perf_counter()
        async with session.get(url) as resp:
            await resp.read()
        latencies.append((time.perf_counter() - start) * 1000)
    return latencies


async def run_mode(mode: str, count: int) -> dict[str, Any]:
    """Measure one storage mode against a fresh server."""
    log_path = RESULTS / f"rest_bulk-{mode}-server.log"
    async with contextlib.AsyncExitStack() as stack:
        server, secret = await start_stack(stack, mode, log_path)
        session = await stack.enter_async_context(client_session())
        await wait_ready(session, server)
        token = EmbeddedIssuer(secret.encode()).mint("bulk", ttl_s=3600)
        ws, _ = await open_authenticated(session, server.port, token)
        await create_timers(ws, count)
        await ws.close()
        base = f"http://127.0.0.1:{server.port}"
        headers = {"Authorization": f"Bearer {token}"}
        reads, health = [], []
        for _ in range(READS):
            stop = asyncio.Event()
            poller = asyncio.create_task(poll_health(session, base + "/health", stop))
            seconds, body = await timed_get(session, f"{base}/v1/timers?limit={count}", headers)
            stop.set()
            health += await poller
            reads.append(seconds * 1000)
            items = len(orjson.loads(body)["items"])
            assert items == count, items
    return {
        "mode": mode,
        "timers": count,
        "read_ms_median": round(statistics.median(reads), 1),
        "read_ms_max": round(max(reads), 1),
        "health_ms_median_during_read": round(statistics.median(health), 2),
        "health_ms_max_during_read": round(max(health), 2),
        "health_samples": len(health),
    }


def main() -> None:
    """Parse arguments, run, print and save the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mode", choices=["embedded", "postgres", "both"], default="both")
    parser.add_argument("--timers", type=int, default=5000)
    args = parser.parse_args()
    modes = ["embedded", "postgres"] if args.mode == "both" else [args.mode]
    RESULTS.mkdir(exist_ok=True)
    for mode in modes:
        result = asyncio.run(run_mode(mode, args.timers))
        print(json.dumps(result, indent=2))
        (RESULTS / f"rest_bulk-{mode}.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
