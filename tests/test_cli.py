"""The hipster-timer command line."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from server.auth.embedded import EmbeddedIssuer, load_or_create_secret
from tests.conftest import SECRET
from tests.wsclient import Device

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


# Runs the command line in-process and writes the names of the loaded modules to a file.
PROBE = """
import json, sys
from server.cli import main
try:
    main(sys.argv[2:])
except SystemExit:
    pass
with open(sys.argv[1], "w") as out:
    json.dump(sorted(sys.modules), out)
"""
HEAVY = ("aiohttp", "server.app", "server.storage", "sqlalchemy", "alembic", "asyncpg", "redis")


def loaded_modules(args: list[str], data_dir: Path) -> tuple[set[str], str]:
    """Run the CLI with ``args``; return the modules it imported and what it printed."""
    listing = data_dir / "modules.json"
    environment = {**os.environ, "DATA_DIR": str(data_dir)}
    for name in ("DATABASE_URL", "REDIS_URL", "AUTH_SIGNING_SECRET", "ENVIRONMENT"):
        environment.pop(name, None)
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(listing), *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return set(json.loads(listing.read_text())), result.stdout


def under(modules: set[str], package: str) -> set[str]:
    return {m for m in modules if m == package or m.startswith(package + ".")}


def test_token_create_prints_a_token_for_the_embedded_issuer(tmp_path):
    result = run(
        ["token", "create", "--user", "dana", "--email", "d@example.com", "--name", "Dana"],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    (token,) = result.stdout.splitlines()
    issuer = EmbeddedIssuer(load_or_create_secret(tmp_path, None))
    identity = issuer.verify(token)
    assert (identity.sub, identity.name) == ("dana", "Dana")
    assert (identity.email, identity.email_verified) == ("d@example.com", True)
    assert (tmp_path / "signing.key").stat().st_mode & 0o777 == 0o600


def test_token_create_leaves_the_database_alone(tmp_path):
    modules, printed = loaded_modules(["token", "create", "--user", "dana"], tmp_path)
    assert printed.count(".") == 2  # one compact JWT: header.claims.signature
    assert not (tmp_path / "hipster.db").exists()
    assert set().union(*(under(modules, heavy) for heavy in HEAVY)) == set()


def test_help_imports_neither_settings_nor_the_server(tmp_path):
    modules, printed = loaded_modules(["--help"], tmp_path)
    assert "token" in printed
    assert under(modules, "pydantic") == set()
    assert under(modules, "server") == {"server", "server.cli"}


def claims_of(token: str) -> dict[str, Any]:
    """Return a token's claims, unverified."""
    part = token.split(".")[1]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return claims


@pytest.mark.parametrize(("args", "lifetime"), [([], 24 * 3600), (["--ttl", "600"], 600)])
def test_token_lifetime_is_ttl_seconds_from_issue(tmp_path, args, lifetime):
    result = run(["token", "create", "--user", "dana", *args], tmp_path)
    claims = claims_of(result.stdout.strip())
    assert claims["exp"] - claims["iat"] == lifetime
    assert (claims["iss"], claims["aud"]) == ("hipster-timer", "hipster-timer")


async def test_a_minted_user_is_created_at_first_sign_in(client, tmp_path):
    result = run(
        ["token", "create", "--user", "erin", "--email", "Erin@Example.com", "--name", "Erin"],
        tmp_path,
        AUTH_SIGNING_SECRET=SECRET,
    )
    assert result.returncode == 0, result.stderr
    dev = await Device.connect(client, result.stdout.strip())
    try:
        user = dev.ready["user"]
        assert (user["id"], user["display_name"]) == ("erin", "Erin")
        assert (user["email"], user["email_verified"]) == ("erin@example.com", True)
        assert user["version"] == 1
    finally:
        await dev.close()


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

    from server.cli import GC_YOUNG_THRESHOLD, tune_collector

    before = gc.get_threshold()
    app = web.Application()
    try:
        await tune_collector(app)
        assert gc.get_freeze_count() > 10_000
        assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, *before[1:])
        stop = app.on_cleanup[-1]  # stops the policy and unfreezes
        await stop(app)
        assert gc.get_freeze_count() == 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
