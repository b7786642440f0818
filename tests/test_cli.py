"""The hipster-timer command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from server.auth.embedded import EmbeddedIssuer, load_or_create_secret

# The newest migration: `db current` must name it after an upgrade.
HEAD = max(
    p.name.split("_")[0]
    for p in (Path(__file__).parents[1] / "migrations" / "versions").glob("0*.py")
)


def run(args: list[str], data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "DATA_DIR": str(data_dir), "LOG_LEVEL": "WARNING", **env}
    for name in ("DATABASE_URL", "REDIS_URL", "AUTH_SIGNING_SECRET", "ENVIRONMENT"):
        if name not in env:
            environment.pop(name, None)
    return subprocess.run(
        [sys.executable, "-m", "server", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_token_create_prints_a_token_for_the_embedded_issuer(tmp_path):
    result = run(
        ["token", "create", "--user", "dana", "--email", "d@example.com", "--name", "Dana"],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    issuer = EmbeddedIssuer(load_or_create_secret(tmp_path, None))
    identity = issuer.verify(token)
    assert identity.sub == "dana"
    assert identity.email == "d@example.com"
    assert (tmp_path / "signing.key").stat().st_mode & 0o777 == 0o600
    current = run(["db", "current"], tmp_path)
    assert f"{HEAD} (head)" in current.stdout


def test_token_ttl_is_bounded(tmp_path):
    result = run(["token", "create", "--user", "dana", "--ttl", "0"], tmp_path)
    assert result.returncode != 0
    assert "--ttl" in result.stderr


def test_invalid_configuration_is_reported_without_the_secret(tmp_path):
    result = run(
        ["db", "current"], tmp_path, ENVIRONMENT="production", AUTH_SIGNING_SECRET="TOPSECRETshort"
    )
    assert result.returncode == 2
    assert "at least 32 bytes" in result.stderr
    assert "TOPSECRET" not in result.stderr


def test_db_upgrade_is_idempotent(tmp_path):
    for _ in range(2):
        result = run(["db", "upgrade"], tmp_path)
        assert result.returncode == 0, result.stderr
        assert f"{HEAD} (head)" in result.stdout


async def test_serve_keeps_the_startup_heap_out_of_later_collections():
    import gc

    from aiohttp import web

    from server.cli import freeze_startup_objects

    try:
        await freeze_startup_objects(web.Application())
        assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()
