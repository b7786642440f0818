"""Friend fan-out: one change to a user with 200 subscribed friends.

Starts a server (embedded, or PostgreSQL + Redis), connects the owner and
``--friends`` friends (one socket each), befriends them all and subscribes each
friend to the owner's topic. The owner's timer is visible to friends; each
change renames it. Timed per change: from sending the command until every
friend's socket has the event (all must arrive), and the server's CPU time.
A second phase shares the timer with half of the friends (``selected``), and a
third makes it private (no recipient but the owner): the baseline that shows
what the 200 deliveries themselves cost.

Run: .venv/bin/python bench/friends_fanout.py [--mode embedded|postgres|both]
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
from todo_tree import Client, ok
from ws_fanout import client_session, open_authenticated, receive_frame, start_stack, wait_ready

from server.auth.embedded import EmbeddedIssuer

RESULTS = Path(__file__).resolve().parent / "results"


async def connect(
    session: aiohttp.ClientSession, port: int, issuer: EmbeddedIssuer, user: str
) -> Client:
    ws, _ = await open_authenticated(session, port, issuer.mint(user, ttl_s=3600))
    return Client(ws)


async def befriend(owner: Client, owner_code: str, friend: Client) -> None:
    asked = ok((await friend.call("friend.request", {"friend_code": owner_code}))[1])
    ok((await owner.call("friend.accept", {"id": asked["friendship"]["id"]}))[1])


async def arrival(friend: Client, title: str) -> float:
    """Read until the renamed timer arrives; return the arrival time."""
    while True:
        frame = await receive_frame(friend.ws)
        if frame.get("type") == "event" and frame["data"].get("title") == title:
            return time.perf_counter()


async def one_change(
    owner: Client, timer_id: str, friends: list[Client], n: int, expected: int
) -> float:
    """Rename the timer; return ms until ``expected`` friends (the first ones) have it."""
    title = f"change {n}"
    waits = [asyncio.ensure_future(arrival(friend, title)) for friend in friends[:expected]]
    start = time.perf_counter()
    ok((await owner.call("timer.update", {"id": timer_id, "title": title}))[1])
    done = await asyncio.wait_for(asyncio.gather(*waits), 30)
    return (max(done, default=time.perf_counter()) - start) * 1000


def summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {
        "median_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1], 2),
    }


async def phase(
    server: Any, owner: Client, timer_id: str, friends: list[Client], changes: int, expected: int
) -> dict[str, Any]:
    cpu = server.ps.cpu_times()
    times = [await one_change(owner, timer_id, friends, n, expected) for n in range(changes)]
    after = server.ps.cpu_times()
    used = (after.user + after.system) - (cpu.user + cpu.system)
    return {
        **summary(times),
        "server_cpu_ms_per_change": round(used * 1000 / changes, 2),
        "recipients": expected,
    }


async def run_mode(mode: str, count: int, changes: int) -> dict[str, Any]:
    async with contextlib.AsyncExitStack() as stack:
        server, secret = await start_stack(
            stack, mode, RESULTS / f"friends_fanout-{mode}-server.log"
        )
        session = await stack.enter_async_context(client_session())
        await wait_ready(session, server)
        issuer = EmbeddedIssuer(secret.encode())
        owner = await connect(session, server.port, issuer, "owner")
        code = ok((await owner.call("user.me", {}))[1])["friend_code"]
        friends = [
            await connect(session, server.port, issuer, f"friend-{i:03d}") for i in range(count)
        ]
        for friend in friends:
            await befriend(owner, code, friend)
            ok((await friend.call("subscribe", {"topic": "user:owner"}))[1])
        timer = ok((await owner.call("timer.start", {"allocated_ms": 3_600_000}))[1])
        share = {"resource_type": "timer", "resource_id": timer["id"], "level": "friends"}
        ok((await owner.call("visibility.set", share))[1])
        await asyncio.sleep(0.5)
        for friend in friends:  # drain what the setup sent
            with contextlib.suppress(TimeoutError):
                while True:
                    await asyncio.wait_for(friend.ws.receive(), 0.01)
        result = {"mode": mode, "friends": count, "changes": changes}
        result["friends_level"] = await phase(server, owner, timer["id"], friends, changes, count)
        half = [f"friend-{i:03d}" for i in range(count // 2)]
        selected = {**share, "level": "selected", "allowed_user_ids": half}
        ok((await owner.call("visibility.set", selected))[1])
        await asyncio.sleep(0.5)
        result["selected_half"] = await phase(
            server, owner, timer["id"], friends, changes, count // 2
        )
        private = {**share, "level": "private"}
        ok((await owner.call("visibility.set", private))[1])
        await asyncio.sleep(0.5)
        result["private_baseline"] = await phase(server, owner, timer["id"], friends, changes, 0)
        for client in [owner, *friends]:
            await client.ws.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mode", choices=["embedded", "postgres", "both"], default="both")
    parser.add_argument("--friends", type=int, default=200)
    parser.add_argument("--changes", type=int, default=200)
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    for mode in ["embedded", "postgres"] if args.mode == "both" else [args.mode]:
        result = asyncio.run(run_mode(mode, args.friends, args.changes))
        print(json.dumps(result, indent=2))
        (RESULTS / f"friends_fanout-{mode}.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
