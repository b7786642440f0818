"""Holidays: holiday.list of Korea over 50 years, cold and warm, and the iCalendar feed.

Engine alone (no server): the first call in the process (the package loads the
country's module and translations), a cold call on a fresh engine (module loaded,
empty year cache; median of 11 fresh engines), and a warm call (median of 31);
the feed's rendering for 4 and 50 years.

Real server (`hipster-timer serve`, embedded mode: holidays touch no database):
`holiday.list` KR 2000-2049 over the WebSocket, first request (cold) and the
median of 31 more (warm); `GET /v1/holidays/KR.ics` (the default 4 years) and a
50-year feed, first and median of 31, with their sizes, and a repeat with
`If-None-Match` (304).

Run: .venv/bin/python bench/holiday_calendars.py
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
import orjson
from ws_fanout import client_session, open_authenticated, start_stack, wait_ready

from server.auth.embedded import EmbeddedIssuer
from server.domain.holidays.engine import HolidayEngine
from server.domain.holidays.ical import render_holiday_feed

RESULTS = Path(__file__).resolve().parent / "results"
KR_50 = {"country": "KR", "start_year": 2000, "end_year": 2049}
RUNS = 31


def timed_ms(work: Callable[[], Any]) -> float:
    """Return how long ``work()`` took, in ms."""
    start = time.perf_counter()
    work()
    return (time.perf_counter() - start) * 1000


def engine_figures() -> dict[str, Any]:
    """Time the engine alone: first call, cold and warm 50-year lists, feed rendering."""
    first = timed_ms(lambda: HolidayEngine().days(HolidayEngine().resolve("KR"), 2000, 2049))
    cold = [timed_ms(lambda: kr_50(HolidayEngine())) for _ in range(11)]
    engine = HolidayEngine()
    days = kr_50(engine)
    warm = [timed_ms(lambda: kr_50(engine)) for _ in range(RUNS)]
    spec = engine.resolve("KR")
    feed = render_holiday_feed(spec, engine.title(spec), days)
    render = [timed_ms(lambda: render_holiday_feed(spec, "KR", days)) for _ in range(11)]
    return {
        "kr_50_years_days": len(days),
        "first_call_in_process_ms": round(first, 1),
        "cold_ms_median": round(statistics.median(cold), 2),
        "warm_ms_median": round(statistics.median(warm), 3),
        "feed_50_years_bytes": len(feed),
        "feed_50_years_render_ms_median": round(statistics.median(render), 1),
    }


def kr_50(engine: HolidayEngine) -> list[Any]:
    """Compute Korea's holidays of 2000-2049 on ``engine``."""
    return engine.days(engine.resolve("KR"), 2000, 2049)


async def ws_list(ws: aiohttp.ClientWebSocketResponse, cid: int) -> tuple[float, int]:
    """Send holiday.list KR 50 years; return the round trip in ms and the frame's size."""
    start = time.perf_counter()
    await ws.send_str(orjson.dumps({"id": cid, "type": "holiday.list", "data": KR_50}).decode())
    msg = await ws.receive(timeout=30)
    elapsed = (time.perf_counter() - start) * 1000
    assert orjson.loads(msg.data)["ok"] is True
    return elapsed, len(msg.data)


async def get(
    session: aiohttp.ClientSession, url: str, headers: dict[str, str] | None = None
) -> tuple[float, int, str]:
    """GET ``url``; return ms, body size and ETag."""
    start = time.perf_counter()
    async with session.get(url, headers=headers or {}) as resp:
        body = await resp.read()
        assert resp.status in (200, 304), resp.status
        tag = resp.headers["ETag"]
    return (time.perf_counter() - start) * 1000, len(body), tag


async def feed_figures(session: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    """Time a feed: the first GET, the median of RUNS more, and a 304 repeat."""
    first, size, tag = await get(session, url)
    warm = [(await get(session, url))[0] for _ in range(RUNS)]
    not_modified = [(await get(session, url, {"If-None-Match": tag}))[0] for _ in range(RUNS)]
    return {
        "bytes": size,
        "first_ms": round(first, 2),
        "warm_ms_median": round(statistics.median(warm), 2),
        "not_modified_ms_median": round(statistics.median(not_modified), 2),
    }


async def server_figures() -> dict[str, Any]:
    """Time holiday.list and the feeds against a fresh embedded server."""
    RESULTS.mkdir(exist_ok=True)
    async with contextlib.AsyncExitStack() as stack:
        log_path = RESULTS / "holiday_calendars-server.log"
        server, secret = await start_stack(stack, "embedded", log_path)
        session = await stack.enter_async_context(client_session())
        await wait_ready(session, server)
        token = EmbeddedIssuer(secret.encode()).mint("holidays", ttl_s=3600)
        ws, _ = await open_authenticated(session, server.port, token)
        cold, size = await ws_list(ws, 1)
        warm = [(await ws_list(ws, n))[0] for n in range(2, RUNS + 2)]
        await ws.close()
        base = f"http://127.0.0.1:{server.port}/v1/holidays"
        return {
            "ws_list_kr_50_years_frame_bytes": size,
            "ws_list_kr_50_years_cold_ms": round(cold, 2),
            "ws_list_kr_50_years_warm_ms_median": round(statistics.median(warm), 2),
            "feed_kr_default_span": await feed_figures(session, f"{base}/KR.ics"),
            "feed_kr_50_years": await feed_figures(
                session, f"{base}/KR.ics?start_year=2000&end_year=2049"
            ),
        }


def main() -> None:
    """Run both parts, print and save the figures."""
    argparse.ArgumentParser(description=__doc__).parse_args()  # --help; no options
    load = [round(x, 2) for x in os.getloadavg()]
    result = {
        "load_average_at_start": load,
        "engine": engine_figures(),
        "server": asyncio.run(server_figures()),
    }
    print(json.dumps(result, indent=2))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "holiday_calendars.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
