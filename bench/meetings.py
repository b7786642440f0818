"""Meeting polls at the issue's size: result latency and live delivery to 100 open pages.

One command: ``.venv/bin/python bench/meetings.py`` (PostgreSQL + Redis by default;
``--mode embedded`` for SQLite). It starts a real server, creates a 14-day poll with
15-minute cells from 08:00 to 20:00 (672 cells), joins ``--participants`` signed-in
users who each paint, then measures:

1. ``meeting.result`` with ``duration_minutes=90, min_people=60``: ``--results`` calls,
   one at a time; p50/p99 of the round trip as the client sees it.
2. Live delivery: ``--pages`` page connections subscribed to the poll's topic; painters
   send ``meeting.availability.set`` at ``--rate`` per second (open loop, each carrying
   its send time in a cell choice we can recognise) for ``--seconds``; each page
   records when it received each ``meeting_availability.updated``: p50/p99 from send to
   receipt over every (change, page) pair, and how many were lost.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import random
import secrets
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ws_fanout import (
    client_session,
    create_database,
    migrate,
    open_authenticated,
    percentile,
    receive_frame,
    server_env,
    start_server,
    wait_ready,
)
from server.auth.embedded import EmbeddedIssuer

ZONE = "America/New_York"
START = datetime(2026, 3, 2, 8, 0)  # local; the poll spans the DST change of March 8


def poll_definition() -> dict[str, Any]:
    """Return the issue's poll: 14 days, 15-minute cells from 08:00 to 20:00."""
    return {
        "title": "bench",
        "start_date": "2026-03-02",
        "end_date": "2026-03-15",
        "available_days": list(range(7)),
        "start_time": "08:00",
        "end_time": "20:00",
        "time_slot_minutes": 15,
        "timezone": ZONE,
    }


def painted_ranges(rng: random.Random) -> list[dict[str, str]]:
    """Return a participant's free time: 4-10 hours on most days, as local ranges."""
    ranges = []
    for day in range(14):
        if rng.random() < 0.2:
            continue
        hours = rng.randint(4, 10)
        first = rng.randint(0, 12 - hours)
        start = START + timedelta(days=day, hours=first)
        ranges.append({"start": _local(start), "end": _local(start + timedelta(hours=hours))})
    return ranges


def _local(moment: datetime) -> str:
    from zoneinfo import ZoneInfo

    return moment.replace(tzinfo=ZoneInfo(ZONE)).isoformat()


class Client:
    """One socket with request/response matching and an event callback."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.next_id = 0
        self.waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.on_event: Any = None
        self.reader = asyncio.create_task(self._read())

    async def call(self, type_: str, data: dict[str, Any]) -> dict[str, Any]:
        self.next_id += 1
        future = asyncio.get_running_loop().create_future()
        self.waiting[self.next_id] = future
        await self.ws.send_str(
            orjson.dumps({"id": self.next_id, "type": type_, "data": data}).decode()
        )
        answer = await future
        if not answer["ok"]:
            raise RuntimeError(f"{type_} failed: {answer['error']}")
        return dict(answer["data"])

    async def _read(self) -> None:
        with contextlib.suppress(ConnectionError, asyncio.CancelledError):
            while True:
                frame = await receive_frame(self.ws)
                if frame.get("type") == "result":
                    self.waiting.pop(frame["id"]).set_result(frame)
                elif frame.get("type") == "event" and self.on_event is not None:
                    self.on_event(frame)


async def connect(session: aiohttp.ClientSession, port: int, token: str) -> Client:
    ws, _ready = await open_authenticated(session, port, token)
    return Client(ws)


async def setup_poll(
    session: aiohttp.ClientSession, port: int, issuer: EmbeddedIssuer, participants: int
) -> tuple[Client, str, list[tuple[Client, str]]]:
    owner = await connect(session, port, issuer.mint("owner"))
    meeting = await owner.call("meeting.create", poll_definition())
    vis = {"resource_type": "meeting", "resource_id": meeting["id"], "level": "public"}
    await owner.call("visibility.set", vis)
    rng = random.Random(7)
    painters = []
    for n in range(participants):
        dev = await connect(session, port, issuer.mint(f"p{n}"))
        link = {"share_token": meeting["share_token"], "display_name": f"P{n}"}
        pid = (await dev.call("meeting.join", link))["participant"]["id"]
        await dev.call(
            "meeting.availability.set", {"participant_id": pid, "ranges": painted_ranges(rng)}
        )
        painters.append((dev, pid))
    return owner, meeting["id"], painters


async def measure_results(owner: Client, meeting_id: str, count: int) -> dict[str, float]:
    """Time ``count`` results one after another, as the client sees them.

    The load process does not collect garbage meanwhile: each answer is 1.2 MB of
    JSON, and the client's own collections otherwise land in the tail.
    """
    query = {"id": meeting_id, "duration_minutes": 90, "min_people": 60}
    took = []
    gc.collect()
    gc.disable()
    try:
        for _ in range(count):
            t0 = time.perf_counter_ns()
            result = await owner.call("meeting.result", query)
            took.append(time.perf_counter_ns() - t0)
    finally:
        gc.enable()
    took.sort()
    best = result["windows"][0] if result["windows"] else None
    return {
        "p50_ms": percentile(took, 50),
        "p99_ms": percentile(took, 99),
        "windows": len(result["windows"]),
        "best_people": len(best["available"]) + len(best["if_need_be"]) if best else 0,
    }


async def measure_delivery(
    session: aiohttp.ClientSession,
    port: int,
    issuer: EmbeddedIssuer,
    meeting_id: str,
    painters: list[tuple[Client, str]],
    pages: int,
    rate: float,
    seconds: float,
) -> dict[str, float]:
    sent: dict[int, int] = {}
    latencies: list[int] = []

    def on_event(frame: dict[str, Any]) -> None:
        if frame["name"] == "meeting_availability.updated":
            version = frame["data"]["version"], frame["data"]["participant_id"]
            at = sent.get(hash(version))
            if at is not None:
                latencies.append(time.perf_counter_ns() - at)

    viewers = []
    for n in range(pages):
        page = await connect(session, port, issuer.mint(f"v{n}"))
        await page.call("subscribe", {"topic": f"meeting:{meeting_id}"})
        page.on_event = on_event
        viewers.append(page)
    versions = {pid: 2 for _, pid in painters}
    rng = random.Random(11)
    total = int(rate * seconds)
    start = time.perf_counter()
    tasks = []
    for n in range(total):
        await asyncio.sleep(max(0.0, start + n / rate - time.perf_counter()))
        dev, pid = painters[n % len(painters)]
        versions[pid] += 1
        sent[hash((versions[pid], pid))] = time.perf_counter_ns()
        data = {"participant_id": pid, "ranges": painted_ranges(rng)}
        tasks.append(asyncio.create_task(dev.call("meeting.availability.set", data)))
    await asyncio.gather(*tasks)
    deadline = time.perf_counter() + 10
    while len(latencies) < total * pages and time.perf_counter() < deadline:  # noqa: ASYNC110 - polls a list the readers fill
        await asyncio.sleep(0.05)
    latencies.sort()
    return {
        "changes": total,
        "pages": pages,
        "delivered": len(latencies),
        "expected": total * pages,
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
    }


async def run(args: argparse.Namespace) -> None:
    secret = secrets.token_urlsafe(48)
    issuer = EmbeddedIssuer(secret.encode())
    async with contextlib.AsyncExitStack() as stack:
        data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        db_name = await create_database(stack) if args.mode == "postgres" else None
        env = server_env(args.mode, data_dir, secret, db_name)
        log_path = data_dir / "server.log"
        if args.mode == "postgres":
            await migrate(env, log_path)
        server = await start_server(stack, env, log_path)
        session = await stack.enter_async_context(client_session())
        await wait_ready(session, server)
        owner, meeting_id, painters = await setup_poll(
            session, server.port, issuer, args.participants
        )
        results = await measure_results(owner, meeting_id, args.results)
        people = args.participants
        print(f"mode {args.mode}: meeting.result (90 min, min 60, {people} people, 672 cells):")
        print(
            f"  p50 {results['p50_ms']:.1f} ms, p99 {results['p99_ms']:.1f} ms, "
            f"{results['windows']} windows, best {results['best_people']} people"
        )
        delivery = await measure_delivery(
            session, server.port, issuer, meeting_id, painters, args.pages, args.rate, args.seconds
        )
        d = delivery
        print(
            f"  delivery to {d['pages']} pages at {args.rate}/s: p50 {d['p50_ms']:.1f} ms, "
            f"p99 {d['p99_ms']:.1f} ms, {d['delivered']}/{d['expected']} delivered"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mode", choices=["postgres", "embedded"], default="postgres")
    parser.add_argument("--participants", type=int, default=100)
    parser.add_argument("--results", type=int, default=200)
    parser.add_argument("--pages", type=int, default=100)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=15.0)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
