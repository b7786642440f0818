"""The floor beside bench/exports.py: its table seeded past its own int overflow, one run of it.

``../shared/bench/floor_rest_export.py --formats csv`` streams a 7-column
table through a bare asyncpg cursor, csv.writer and aiohttp: the least a CSV
export can cost on this machine. It runs in a schema ``floor`` of the bench's
database.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any

import asyncpg


def floor_dsn(url: str) -> str:
    """Point the floor at a schema of its own in the same database."""
    base = url.replace("postgresql+asyncpg://", "postgresql://")
    return base + ("&" if "?" in base else "?") + "search_path=floor"


def load_floor(floor: Path) -> Any:
    """Import the floor script as a module (for its table and seed statements)."""
    spec = importlib.util.spec_from_file_location("floor_rest_export", floor)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load the floor from {floor}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def seed_floor(floor: Path, url: str, rows: int) -> None:
    """Seed the floor's table with ``rows`` rows unless it has them.

    The floor seeds itself, but its generate_series counts in int and
    ``g * 7919`` overflows past 271,000 rows; the same statement over bigint
    makes the same rows, so the floor finds its table full and keeps it.
    """
    module = load_floor(floor)
    conn = await asyncpg.connect(floor_dsn(url))
    try:
        await conn.execute("CREATE SCHEMA IF NOT EXISTS floor")
        await conn.execute(module.SCHEMA_SQL)
        if await conn.fetchval(f"SELECT count(*) FROM {module.TABLE}") == rows:
            return
        seed = module.SEED_SQL.replace("(1, $1::int)", "(1, $1::bigint)")
        await conn.execute(f"TRUNCATE {module.TABLE}")
        await conn.execute(seed, rows)
        await conn.execute(f"VACUUM ANALYZE {module.TABLE}")
    finally:
        await conn.close()


async def run_floor(floor: Path, url: str, rows: int) -> dict[str, Any]:
    """Run the floor once (its own warm-up, then one measured CSV export); return its summary."""
    env = {**os.environ, "BENCH_PG_DSN": floor_dsn(url)}
    args = [sys.executable, str(floor), "--formats", "csv", "--rows", str(rows), "--repeat", "1"]
    proc = await asyncio.create_subprocess_exec(
        *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL
    )
    out, _ = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"the floor failed with {proc.returncode}")
    result = json.loads(out.decode().strip().splitlines()[-1])
    (run,) = result["runs"]
    return {
        k: run[k]
        for k in ("rows", "rows_ok", "rows_per_s", "mb_per_s", "server_rss_growth_mb", "cpu_cores")
    }
