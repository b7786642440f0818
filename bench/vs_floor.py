"""The mutation path beside the floor: interleaved pairs of runs, figures as ratios.

Each pair runs the floor (``../shared/bench/floor_ws_fanout.py``, variant ``full``)
and then ``bench/ws_fanout.py --mode postgres`` with the same shape (1,000 recipient
sockets, fan-out 10, 20,000 mutations, the senders' sockets in the load process
beside the devices as the floor's driver holds them: ``--senders 0``); the project's
paced run goes at half the floor's saturation rate, as the targets are stated.
Absolute figures drift by 1.5x between hours on this machine; ratios within a pair
do not, so the report is the median over the pairs of each ratio.

Usage: .venv/bin/python bench/vs_floor.py --pairs 3   (see bench/README.md)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
FLOOR_DIR = ROOT.parent / "shared" / "bench"
RESULTS_DIR = ROOT / "bench" / "results"
FLOOR_PG = "postgresql://postgres@127.0.0.1:5432/floor"
FLOOR_REDIS = "redis://127.0.0.1:6379/5"

Pick = Callable[[dict[str, Any]], float]

# (figure, the floor's value, the project's value, the target ratio and which side it bounds)
FIGURES: list[tuple[str, Pick, Pick, float, str]] = [
    (
        "accepted mutations/s",
        lambda f: f["sat"]["accepted_per_s"],
        lambda p: p["throughput"]["mutations_per_s"],
        0.7,
        ">=",
    ),
    (
        "server CPU us/mutation",
        lambda f: f["sat"]["cpu_us_per_mutation"]["server"],
        lambda p: p["throughput"]["server_cpu_us_per_mutation"],
        1.5,
        "<=",
    ),
    (
        "paced delivery p50 ms",
        lambda f: f["paced"]["lat_p50_ms"],
        lambda p: p["latency"]["p50_ms"],
        2.0,
        "<=",
    ),
    (
        "paced delivery p99 ms",
        lambda f: f["paced"]["lat_p99_ms"],
        lambda p: p["latency"]["p99_ms"],
        3.0,
        "<=",
    ),
    (
        "KiB per idle connection",
        lambda f: f["kb_per_idle_conn"] * 1000 / 1024,
        lambda p: p["memory"]["kib_per_connection"],
        1.5,
        "<=",
    ),
    (
        "event frame bytes",
        lambda f: f["msg_bytes"],
        lambda p: p["throughput"]["event_frame_bytes"],
        0.0,
        "",
    ),
]


async def ensure_floor_database() -> None:
    """Create the floor's database beside the project's benchmark databases."""
    admin = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/postgres")
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = 'floor'"):
            await admin.execute("CREATE DATABASE floor")
    finally:
        await admin.close()


def run_floor(pair: int) -> dict[str, Any]:
    """Run the floor's ``full`` variant once; return its run record."""
    out = RESULTS_DIR / f"floor-{pair}.json"
    env = {**os.environ, "BENCH_PG_DSN": FLOOR_PG, "BENCH_REDIS_URL": FLOOR_REDIS}
    command = [sys.executable, str(FLOOR_DIR / "floor_ws_fanout.py"), "--variants", "full"]
    subprocess.run([*command, "--repeat", "1", "--out", str(out)], env=env, check=True)
    run = json.loads(out.read_text())["runs"][0]
    if not run.get("ok"):
        raise SystemExit(f"the floor's run failed: {run}")
    return dict(run)


def run_project(rate: float) -> dict[str, Any]:
    """Run ``ws_fanout.py --mode postgres`` with its paced run at ``rate``; return its result."""
    command = [sys.executable, str(ROOT / "bench" / "ws_fanout.py"), "--mode", "postgres"]
    command += ["--senders", "0"]
    subprocess.run([*command, "--rate", f"{rate:.0f}"], check=True, cwd=ROOT)
    return dict(json.loads((RESULTS_DIR / "ws_fanout-postgres.json").read_text()))


def ratio_rows(pairs: Sequence[tuple[dict[str, Any], dict[str, Any]]]) -> list[list[str]]:
    """Return one row per figure: floor and project medians, median ratio, target."""
    rows = []
    for name, floor_of, project_of, target, side in FIGURES:
        floors = [floor_of(f) for f, _ in pairs]
        projects = [project_of(p) for _, p in pairs]
        ratios = [p / f for f, p in zip(floors, projects, strict=True) if f]
        ratio = statistics.median(ratios)
        met = "" if not side else ("met" if eval_side(ratio, side, target) else "not met")
        rows.append(
            [
                name,
                f"{statistics.median(floors):,.1f}",
                f"{statistics.median(projects):,.1f}",
                f"{ratio:.2f}x",
                f"{side} {target}x {met}" if side else "",
            ]
        )
    return rows


def eval_side(ratio: float, side: str, target: float) -> bool:
    """Tell whether ``ratio`` is on the right ``side`` of ``target``."""
    return ratio >= target if side == ">=" else ratio <= target


def print_table(rows: list[list[str]], pairs: int) -> None:
    """Print the figures as a Markdown table."""
    head = ["figure", "floor (median)", "project (median)", f"ratio (median of {pairs})", "target"]
    print("| " + " | ".join(head) + " |")
    print("| " + " | ".join("---" for _ in head) + " |")
    for row in rows:
        print("| " + " | ".join(row) + " |")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the pairs and print the ratios."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pairs", type=int, default=3, help="interleaved floor/project pairs")
    args = parser.parse_args(argv)
    asyncio.run(ensure_floor_database())
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    pairs = []
    for n in range(args.pairs):
        floor = run_floor(n)
        project = run_project(floor["paced"]["target_per_s"])
        pairs.append((floor, project))
        print(
            f"pair {n + 1}: floor {floor['sat']['accepted_per_s']}/s, "
            f"project {project['throughput']['mutations_per_s']}/s",
            file=sys.stderr,
        )
    rows = ratio_rows(pairs)
    print_table(rows, len(pairs))
    (RESULTS_DIR / "vs_floor.json").write_text(
        json.dumps({"pairs": [{"floor": f, "project": p} for f, p in pairs], "table": rows})
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
