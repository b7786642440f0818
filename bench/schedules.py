"""Schedule windows: 1,000 recurring series of one user, a week and a year of them.

Creates 1,000 series over the WebSocket (a third daily, a third weekly on three
days, a third monthly), then measures over REST:
- a one-week window (GET /v1/schedules?start&end, streamed), median of 20;
- the same week read right after a change to one series (so the owner's kept
  rows and templates are read and built again), median of 10;
- a one-year window (about 178,000 occurrences, streamed), median of 5, with the
  server's peak RSS during it and /health latency polled meanwhile;
and over the WebSocket, a one-week schedule.list of a daily series started in
1990 against one started this year (the cost must not grow with age).

Run: .venv/bin/python bench/schedules.py [--mode embedded|postgres|both]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from todo_tree import Client, ok
from ws_fanout import client_session, open_authenticated, start_stack, wait_ready

from server.auth.embedded import EmbeddedIssuer

RESULTS = Path(__file__).resolve().parent / "results"
WEEK = ("2026-06-01T00:00:00Z", "2026-06-08T00:00:00Z")
YEAR = ("2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z")
ZONES = ["Europe/Berlin", "America/New_York", "Asia/Seoul", "Australia/Sydney"]
RULES = ["FREQ=DAILY", "FREQ=WEEKLY;BYDAY=MO,WE,FR", "FREQ=MONTHLY;BYMONTHDAY=15"]


def series(n: int) -> dict[str, Any]:
    """The n-th series: started in 2025 at a quarter hour, in one of four zones."""
    hour, quarter = 7 + n % 10, (n // 10) % 4 * 15
    start = f"2025-{1 + n % 12:02d}-{1 + n % 27:02d}T{hour:02d}:{quarter:02d}:00Z"
    end = f"2025-{1 + n % 12:02d}-{1 + n % 27:02d}T{hour:02d}:{quarter + 10:02d}:00Z"
    return {
        "title": f"series {n}",
        "start_time": start,
        "end_time": end,
        "timezone": ZONES[n % len(ZONES)],
        "recurrence_rule": RULES[n % len(RULES)],
    }


async def timed_window(
    session: aiohttp.ClientSession, base: str, token: str, span: tuple[str, str]
) -> tuple[float, bytes]:
    """GET a window, reading the stream as it comes; return ms and the body.

    The body is parsed by the caller after the /health poller stopped: parsing
    80 MB here would stall this process's own loop and be counted as the server's.
    """
    start = time.perf_counter()
    url = f"{base}/v1/schedules?start={span[0]}&end={span[1]}"
    async with session.get(url, headers={"Authorization": f"Bearer {token}"}) as resp:
        body = await resp.read()
    return (time.perf_counter() - start) * 1000, body


async def poll(session: aiohttp.ClientSession, url: str, stop: asyncio.Event) -> list[float]:
    """GET ``url`` back to back until ``stop``; return each latency in ms."""
    out = []
    while not stop.is_set():
        start = time.perf_counter()
        async with session.get(url) as resp:
            await resp.read()
        out.append((time.perf_counter() - start) * 1000)
        await asyncio.sleep(0.005)
    return out


async def watch_rss(proc: Any, stop: asyncio.Event) -> int:
    """Sample the server's RSS until ``stop``; return the peak in bytes."""
    peak = 0
    while not stop.is_set():
        peak = max(peak, proc.memory_info().rss)
        await asyncio.sleep(0.01)
    return peak


def weeks(count: int) -> list[tuple[str, str]]:
    """Return ``count`` consecutive one-week windows from the bench's week on."""
    first = datetime.fromisoformat(WEEK[0])
    spans = [(first + timedelta(weeks=i), first + timedelta(weeks=i + 1)) for i in range(count)]
    return [(a.isoformat(), b.isoformat()) for a, b in spans]


async def age_ratio(client_old: Client, client_new: Client) -> dict[str, float]:
    """Time one-week schedule.list reads of a 1990 daily series against a 2026 one.

    Each read asks another week (200 of them, old and new interleaved), so every
    read expands the series: none is answered from the window cache.
    """
    times: dict[str, list[float]] = {"old": [], "new": []}
    for start, end in weeks(200):
        for name, client in (("old", client_old), ("new", client_new)):
            ms, frame = await client.call("schedule.list", {"start": start, "end": end})
            assert len(ok(frame)["items"]) == 7, frame
            times[name].append(ms)
    medians = {name: statistics.median(values) for name, values in times.items()}
    return {
        "old_series_week_ms": round(medians["old"], 3),
        "new_series_week_ms": round(medians["new"], 3),
        "ratio": round(medians["old"] / medians["new"], 2),
    }


async def run_mode(mode: str, count: int) -> dict[str, Any]:
    """Measure one storage mode on a fresh server."""
    async with contextlib.AsyncExitStack() as stack:
        server, secret = await start_stack(stack, mode, RESULTS / f"schedules-{mode}-server.log")
        session = await stack.enter_async_context(client_session())
        await wait_ready(session, server)
        issuer = EmbeddedIssuer(secret.encode())
        token = issuer.mint("calendar", ttl_s=3600)
        ws, _ = await open_authenticated(session, server.port, token)
        client = Client(ws)
        frames = await client.many([("schedule.create", series(n)) for n in range(count)])
        ids = [ok(frame)["id"] for frame in frames]
        base = f"http://127.0.0.1:{server.port}"
        week = [await timed_window(session, base, token, WEEK) for _ in range(20)]
        changed = []
        for n in range(10):
            ok((await client.call("schedule.update", {"id": ids[n], "title": f"renamed {n}"}))[1])
            changed.append((await timed_window(session, base, token, WEEK))[0])
        year, health, peaks = [], [], []
        for _ in range(5):
            stop = asyncio.Event()
            poller = asyncio.create_task(poll(session, base + "/health", stop))
            watcher = asyncio.create_task(watch_rss(server.ps, stop))
            elapsed, body = await timed_window(session, base, token, YEAR)
            year.append((elapsed, body if not year else b""))
            stop.set()
            health += await poller
            peaks.append(await watcher)
        clients = []
        for user, start in (("old", "1990-01-01T09:00:00Z"), ("new", "2026-01-01T09:00:00Z")):
            sock, _ = await open_authenticated(session, server.port, issuer.mint(user, ttl_s=3600))
            c = Client(sock)
            daily = {
                "title": user,
                "start_time": start,
                "end_time": start.replace("09:", "10:"),
                "timezone": "Europe/Berlin",
                "recurrence_rule": "FREQ=DAILY",
            }
            ok((await c.call("schedule.create", daily))[1])
            clients.append(c)
        ratio = await age_ratio(*clients)
        rss_idle = server.ps.memory_info().rss
    return {
        "mode": mode,
        "series": count,
        "week_items": len(orjson.loads(week[0][1])["items"]),
        "week_ms_median": round(statistics.median(t for t, _ in week), 1),
        "week_ms_median_after_a_change": round(statistics.median(changed), 1),
        "year_items": len(orjson.loads(year[0][1])["items"]),
        "year_body_mb": round(len(year[0][1]) / 2**20, 1),
        "year_ms_median": round(statistics.median(t for t, _ in year), 1),
        "server_rss_peak_during_year_mb": round(max(peaks) / 2**20, 1),
        "server_rss_after_mb": round(rss_idle / 2**20, 1),
        "health_ms_median_during_year": round(statistics.median(health), 2),
        "health_ms_max_during_year": round(max(health), 2),
        **ratio,
    }


def main() -> None:
    """Parse arguments, run, print and save the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mode", choices=["embedded", "postgres", "both"], default="both")
    parser.add_argument("--series", type=int, default=1000)
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    for mode in ["embedded", "postgres"] if args.mode == "both" else [args.mode]:
        result = asyncio.run(run_mode(mode, args.series))
        print(json.dumps(result, indent=2))
        (RESULTS / f"schedules-{mode}.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
