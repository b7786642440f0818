"""Schemathesis against a live server: no 5xx, no answer the OpenAPI document does not allow,
no error in the server's log.

The server is the real app on a loopback port (aiohttp's TestServer) with the suite's
database and fan-out, so the run covers the embedded default and, with
TEST_DATABASE_URL and TEST_REDIS_URL, PostgreSQL and Redis. Schemathesis runs as a
subprocess (it has no aiohttp loader) in deterministic mode with a bounded number of
examples per operation, so a run takes seconds and repeats exactly;
``FUZZ_MAX_EXAMPLES`` asks for more.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from server.rest.routes import openapi_document
from tests.rest.seed import Seeded, seed_account

MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "25"))
RUN_TIMEOUT_S = 600
# Rules a JSON Schema cannot say, which these operations answer with 422 for input the
# document otherwise allows: an opaque cursor the server did not issue, a window whose
# end is not after its start or spans over 3 years, a zone name the zone data lacks,
# owner_id together with group or tag filters, tag ids repeated in another spelling, a
# required participant who is not one of the poll's. Which countries, subdivisions,
# languages and years the holiday package knows is data, not schema: a schema-valid
# code may name no country.
RULES_BEYOND_THE_SCHEMA = (
    "bootstrap",
    "schedules.list",
    "timers.list",
    "todos.list",
    "meetings.get",
    "meetings.result",
    "holidays.list",
    "holidays.feed",
    "exports.timers_csv",
    "exports.timers_jsonl",
)


# Windows that hold the seeded schedules: random instants rarely make a window whose
# end follows its start by less than 3 years, so reads would never get past validation.
WINDOW_STARTS = ["2026-03-01T00:00:00Z", "2026-03-09T00:00:00-05:00", "2025-12-31T23:00:00+09:00"]
WINDOW_ENDS = ["2026-04-01T00:00:00Z", "2026-03-16T00:00:00.500-04:00", "2027-01-01T00:00:00Z"]
ZONES = ["UTC", "America/New_York", "Asia/Kolkata", "Pacific/Chatham"]


def _bind(parameter: str, dictionary: str, probability: float) -> str:
    """Bind a parameter to a dictionary: its values are drawn from it this often."""
    return (
        f"{json.dumps(parameter)} = {_toml({'dictionary': dictionary, 'probability': probability})}"
    )


def _toml(value: Any) -> str:
    """Write a TOML value (JSON strings, numbers, arrays and booleans are TOML too)."""
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + " }"
    return json.dumps(value)


def write_config(directory: Path, token: str, seeded: Seeded) -> Path:
    """Write the run's schemathesis.toml: auth, limits, known ids, and the rules above."""
    lines = [
        "workers = 1",
        "continue-on-failure = true",
        # No state carried over from earlier runs: every run is the same run.
        "[cache]",
        "enabled = false",
        "[generation]",
        f"max-examples = {MAX_EXAMPLES}",
        "deterministic = true",
        "[reports.json]",
        f"path = {_toml(str(directory / 'report.json'))}",
        "[auth.openapi.bearer]",
        f"bearer = {_toml(token)}",
        # Real values besides generated ones, so reads find items and the feed answers 200.
        "[dictionaries.feed-tokens]",
        f"values = {_toml([seeded.feed_token])}",
        "[dictionaries.meetings]",
        f"values = {_toml([seeded.meeting_id])}",
        "[dictionaries.owners]",
        f"values = {_toml([seeded.friend_id, 'alice', 'carol'])}",
        "[dictionaries.starts]",
        f"values = {_toml(WINDOW_STARTS)}",
        "[dictionaries.ends]",
        f"values = {_toml(WINDOW_ENDS)}",
        "[dictionaries.zones]",
        f"values = {_toml(ZONES)}",
        "[parameters]",
        _bind("path.token", "feed-tokens", 0.5),
        _bind("path.id", "meetings", 0.5),
        _bind("query.owner_id", "owners", 0.3),
        *(_bind(f"query.{name}", "starts", 0.7) for name in ("start", "schedules_start")),
        *(_bind(f"query.{name}", "ends", 0.7) for name in ("end", "schedules_end")),
        _bind("query.tz", "zones", 0.7),
        "[[operations]]",
        f"include-operation-id = {_toml(list(RULES_BEYOND_THE_SCHEMA))}",
        "checks.positive_data_acceptance.expected-statuses = "
        + _toml(["2xx", "401", "403", "404", "422"]),
    ]
    path = directory / "schemathesis.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def run_schemathesis(base_url: str, config: Path) -> tuple[int, str]:
    """Run ``schemathesis run`` against the live server; return its exit code and output."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(config),
        "--no-color",
        "run",
        f"{base_url}/v1/openapi.json",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=config.parent,
    )
    try:
        async with asyncio.timeout(RUN_TIMEOUT_S):
            output, _ = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return proc.returncode, output.decode(errors="replace")


async def test_schemathesis_finds_no_failure(start_server, token, tmp_path, caplog):
    client = await start_server()
    seeded = await seed_account(client, token)
    config = write_config(tmp_path, token("alice"), seeded)
    base_url = str(client.make_url("")).rstrip("/")
    code, output = await run_schemathesis(base_url, config)
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    (tmp_path / "output.txt").write_text(output, encoding="utf-8")
    operations = sum(len(item) for item in openapi_document()["paths"].values())
    summary = (
        f"schemathesis: {report['operations']['tested']} operations, "
        f"{report['test_cases']['generated']} test cases"
    )
    print(summary)
    assert code == 0, f"{summary}\n{output}"
    assert report["failures"] == [], output
    assert report["errors"] == [], output
    # Schemathesis leaves out the operation that serves the document it reads.
    assert report["operations"]["tested"] == operations - 1, output
    assert report["test_cases"]["generated"] >= operations * 10, output
    assert report["warnings"]["missing_test_data"] == [], output
    logged = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert logged == [], "\n".join(caplog.text.splitlines()[-50:])
