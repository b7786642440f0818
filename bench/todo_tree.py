"""Todo trees: a 10,000-todo tree of depth 50, its cycle check and filtered list.

Builds the tree over the WebSocket (level by level, 64 commands in flight),
then times, as a client sees them (round trip on localhost):
- a refused re-parent that closes a 49-level loop (the cycle check);
- an accepted re-parent deep in the tree (the check plus the write);
- todo.list filtered by a tag (about 1 % of todos) with all their ancestors
  (about 1,000 todos in one answer), and its first page of 100;
- the first page (500) of the unfiltered list, and todo.stats.

Run: .venv/bin/python bench/todo_tree.py [--mode embedded|postgres|both]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import statistics
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from ws_fanout import client_session, open_authenticated, receive_frame, start_stack, wait_ready

from server.auth.embedded import EmbeddedIssuer

RESULTS = Path(__file__).resolve().parent / "results"
WINDOW = 64
REPEATS = 200


class Client:
    """One socket; commands get ids, results are matched to them."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.next_id = 0

    async def send(self, type_: str, data: dict[str, Any]) -> int:
        self.next_id += 1
        frame = {"id": self.next_id, "type": type_, "data": data}
        await self.ws.send_str(orjson.dumps(frame).decode())
        return self.next_id

    async def results(self, count: int) -> dict[int, dict[str, Any]]:
        """Read until ``count`` results arrived (events are skipped)."""
        got: dict[int, dict[str, Any]] = {}
        while len(got) < count:
            frame = await receive_frame(self.ws)
            if frame.get("type") == "result":
                got[frame["id"]] = frame
        return got

    async def call(self, type_: str, data: dict[str, Any]) -> tuple[float, dict[str, Any]]:
        """Send one command; return its round trip in ms and its result frame."""
        start = time.perf_counter()
        ident = await self.send(type_, data)
        frame = (await self.results(1))[ident]
        return (time.perf_counter() - start) * 1000, frame

    async def many(self, commands: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
        """Run commands with WINDOW in flight; return their results in order."""
        ids: list[int] = []
        results: dict[int, dict[str, Any]] = {}
        for type_, data in commands:
            ids.append(await self.send(type_, data))
            if len(ids) - len(results) >= WINDOW:
                results.update(await self.results(1))
        results.update(await self.results(len(ids) - len(results)))
        return [results[i] for i in ids]


def ok(frame: dict[str, Any]) -> Any:
    if not frame.get("ok"):
        raise RuntimeError(f"command failed: {frame}")
    return frame["data"]


async def build_tree(client: Client, todos: int, depth: int, rng: random.Random) -> dict[str, Any]:
    """Create a group, a tag and ``todos`` todos, ``todos // depth`` per level."""
    group = ok((await client.call("tag_group.create", {"name": "Bench"}))[1])
    tag = ok((await client.call("tag.create", {"group_id": group["id"], "name": "urgent"}))[1])
    width = todos // depth
    levels: list[list[str]] = []
    start = time.perf_counter()
    for level in range(depth):
        commands = []
        for _ in range(width):
            data: dict[str, Any] = {"title": f"L{level}", "tag_group_id": group["id"]}
            if levels:
                data["parent_id"] = rng.choice(levels[-1])
            if rng.random() < 0.01:
                data["tag_ids"] = [tag["id"]]
            commands.append(("todo.create", data))
        levels.append([ok(frame)["id"] for frame in await client.many(commands)])
    seconds = time.perf_counter() - start
    return {"group": group, "tag": tag, "levels": levels, "create_per_s": todos / seconds}


async def deepest_chain(client: Client, leaf: str) -> list[str]:
    """Return the ids from ``leaf`` up to its root."""
    chain = [leaf]
    while True:
        parent = ok((await client.call("todo.get", {"id": chain[-1]}))[1])["parent_id"]
        if parent is None:
            return chain
        chain.append(parent)


async def timed(client: Client, type_: str, data: dict[str, Any], code: str | None) -> list[float]:
    """Time REPEATS calls that must succeed (code None) or fail with ``code``."""
    times = []
    for _ in range(REPEATS):
        ms, frame = await client.call(type_, data)
        got = None if frame["ok"] else frame["error"]["code"]
        if got != code:
            raise RuntimeError(f"{type_}: expected {code}, got {frame}")
        times.append(ms)
    return times


def summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {
        "median_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1], 2),
    }


async def run_mode(mode: str, todos: int, depth: int) -> dict[str, Any]:
    """Build the tree on a fresh server of ``mode`` and time the reads and checks."""
    rng = random.Random(7)
    async with contextlib.AsyncExitStack() as stack:
        server, secret = await start_stack(stack, mode, RESULTS / f"todo_tree-{mode}-server.log")
        session = await stack.enter_async_context(client_session())
        await wait_ready(session, server)
        token = EmbeddedIssuer(secret.encode()).mint("tree", ttl_s=3600)
        ws, _ = await open_authenticated(session, server.port, token)
        client = Client(ws)
        tree = await build_tree(client, todos, depth, rng)
        chain = await deepest_chain(client, tree["levels"][-1][0])
        root, leaf, middle = chain[-1], chain[0], chain[len(chain) // 2]
        other_root = next(r for r in tree["levels"][0] if r != root)
        listed = ok(
            (await client.call("todo.list", {"tag_ids": [tree["tag"]["id"]], "limit": 1000}))[1]
        )
        reasons = [item["include_reason"] for item in listed["items"]]
        result = {
            "mode": mode,
            "todos": todos,
            "depth": len(chain),
            "create_todos_per_s": round(tree["create_per_s"]),
            "filtered_list_items": len(reasons),
            "filtered_list_matches": reasons.count("MATCH"),
            "cycle_refused": summary(
                await timed(
                    client, "todo.update", {"id": root, "parent_id": leaf}, "cycle_detected"
                )
            ),
            "reparent_accepted": summary(
                await timed(client, "todo.update", {"id": middle, "parent_id": other_root}, None)
            ),
            "list_tag_with_ancestors": summary(
                await timed(
                    client, "todo.list", {"tag_ids": [tree["tag"]["id"]], "limit": 1000}, None
                )
            ),
            "list_tag_with_ancestors_page_100": summary(
                await timed(
                    client, "todo.list", {"tag_ids": [tree["tag"]["id"]], "limit": 100}, None
                )
            ),
            "list_first_page_500": summary(await timed(client, "todo.list", {"limit": 500}, None)),
            "stats": summary(await timed(client, "todo.stats", {}, None)),
        }
        await ws.close()
    return result


def main() -> None:
    """Parse arguments, run, print and save the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mode", choices=["embedded", "postgres", "both"], default="both")
    parser.add_argument("--todos", type=int, default=10_000)
    parser.add_argument("--depth", type=int, default=50)
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    for mode in ["embedded", "postgres"] if args.mode == "both" else [args.mode]:
        result = asyncio.run(run_mode(mode, args.todos, args.depth))
        print(json.dumps(result, indent=2))
        (RESULTS / f"todo_tree-{mode}.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
