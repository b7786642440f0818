"""Two versions of the server's connect path side by side, pass by pass.

This machine's speed swings by up to 2x within minutes, so runs of ``connects.py`` a
few minutes apart cannot tell a 10 % change from noise. This starts two servers at
once (each with its own database): A runs this checkout, B the code under
``--against`` (put first on its ``PYTHONPATH``: another checkout's root, or a folder
with a ``sitecustomize.py`` that changes something). Passes of ``--clients``
reconnects (upgrade, hello, ``auth`` with a resume cursor at the head, ``ready``)
then alternate A B B A ..., so a swing of the machine's speed lands on both, and
it prints each server's CPU per connect and connects/s, their medians, and the
median of the per-round ratios B / A.
Usage: .venv/bin/python bench/connects_ab.py --against /tmp/other-checkout [--rounds 6]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
from pathlib import Path
from typing import Any

import uvloop
from connects import connect_arguments, project_pass, start_seeded
from ws_fanout import RESULTS_DIR, raise_nofile_limit


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Start both sides, then run the rounds (A B, then B A, and so on)."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    passes: dict[str, list[dict[str, Any]]] = {"A": [], "B": []}
    async with contextlib.AsyncExitStack() as stack:
        sides = {
            "A": await start_seeded(stack, args, "connects_ab-A"),
            "B": await start_seeded(
                stack, args, "connects_ab-B", {"PYTHONPATH": str(args.against)}
            ),
        }
        for round_no in range(args.rounds):
            for name in ("A", "B") if round_no % 2 == 0 else ("B", "A"):
                server, devices = sides[name]
                result = await project_pass(devices, server, args.concurrency)
                passes[name].append(result)
                print(json.dumps({"round": round_no, "side": name, **result}), file=sys.stderr)
    return summarise(args, passes)


def summarise(args: argparse.Namespace, passes: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Return the medians per side and the median per-round ratios B / A."""
    cpu = {k: [p["server_cpu_ms_per_connect"] for p in v] for k, v in passes.items()}
    rate = {k: [p["connects_per_s"] for p in v] for k, v in passes.items()}
    return {
        "bench": "connects_ab",
        "mode": args.mode,
        "against": str(args.against),
        "clients": args.clients,
        "rounds": args.rounds,
        "passes": passes,
        "median_cpu_ms": {k: round(statistics.median(v), 3) for k, v in cpu.items()},
        "median_connects_per_s": {k: round(statistics.median(v), 1) for k, v in rate.items()},
        "median_cpu_ratio_b_a": round(
            statistics.median(b / a for a, b in zip(cpu["A"], cpu["B"], strict=True)), 3
        ),
        "median_rate_ratio_b_a": round(
            statistics.median(b / a for a, b in zip(rate["A"], rate["B"], strict=True)), 3
        ),
        "failed": sum(p["failed"] for v in passes.values() for p in v),
    }


def report(result: dict[str, Any]) -> None:
    """Print one line per round, then the medians."""
    print(f"{'round':>5} {'A cpu ms':>9} {'B cpu ms':>9} {'A /s':>8} {'B /s':>8}")
    for n, (a, b) in enumerate(zip(result["passes"]["A"], result["passes"]["B"], strict=True)):
        print(
            f"{n:>5} {a['server_cpu_ms_per_connect']:>9} {b['server_cpu_ms_per_connect']:>9}"
            f" {a['connects_per_s']:>8} {b['connects_per_s']:>8}"
        )
    cpu, rate = result["median_cpu_ms"], result["median_connects_per_s"]
    print(
        f"median server CPU per connect: A {cpu['A']} ms, B {cpu['B']} ms;"
        f" median ratio B/A {result['median_cpu_ratio_b_a']}"
    )
    print(
        f"median connects/s: A {rate['A']}, B {rate['B']};"
        f" median ratio B/A {result['median_rate_ratio_b_a']}"
    )


def main() -> None:
    """Parse arguments, run, print."""
    parser = connect_arguments(__doc__)
    parser.add_argument("--against", type=Path, required=True, help="B's PYTHONPATH")
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    if not args.against.is_dir():
        parser.error(f"--against {args.against} is not a folder")
    raise_nofile_limit()
    result = uvloop.run(run(args))
    (RESULTS_DIR / f"connects_ab-{args.mode}.json").write_text(json.dumps(result, indent=1) + "\n")
    report(result)
    sys.exit(1 if result["failed"] else 0)


if __name__ == "__main__":
    main()
