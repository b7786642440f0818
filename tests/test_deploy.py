"""Deployment files: compose.yaml, Dockerfile and docs/configuration.md agree with Settings."""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

import server
from server.settings import Settings
from server.storage import migrate

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
CONFIG_DOC = ROOT / "docs" / "configuration.md"

FIELDS = {name.upper() for name in Settings.model_fields}
SERVICES = {"postgres", "redis", "migrate", "server-1", "server-2"}
SERVERS = ("server-1", "server-2")
IMAGE = "hipster-timer:local"
SECRET_REF = "${AUTH_SIGNING_SECRET:?set AUTH_SIGNING_SECRET (32+ bytes)}"
SERVER_ENV = {
    "ENVIRONMENT": "production",
    "LOG_LEVEL": "${LOG_LEVEL:-INFO}",
    "LOG_FORMAT": "${LOG_FORMAT:-json}",
    "DATABASE_URL": "postgresql://hipster:hipster@postgres:5432/hipster",
    "REDIS_URL": "redis://redis:6379/0",
    "AUTH_SIGNING_SECRET": SECRET_REF,
    "CORS_ORIGINS": "${CORS_ORIGINS:-}",
}
DOC_GROUPS = [
    "Server",
    "Storage",
    "Fan-out",
    "Auth",
    "CORS and proxies",
    "WebSocket limits",
    "Events and retention",
    "Timers",
    "Shutdown",
    "Schedules",
    "Calendar feeds",
    "Metrics",
]


# --- helpers -------------------------------------------------------------------------------

_VARIABLE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


class MissingVariableError(LookupError):
    """Compose would refuse to start: a required variable is missing."""


def interpolate(value: str, env: dict[str, str]) -> str:
    """Substitute ${X}, ${X:-default}, ${X-default}, ${X:?error} and ${X?error} as Compose does."""

    def substitute(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        current = env.get(name)
        unset = current is None or (op is not None and op.startswith(":") and current == "")
        if op is None:
            return current or ""
        if unset:
            if op.endswith("?"):
                raise MissingVariableError(f"{name}: {arg}")
            return arg
        return current or ""

    return _VARIABLE.sub(substitute, value)


def load_compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


def service(name: str) -> dict[str, Any]:
    return load_compose()["services"][name]


def environment(svc: dict[str, Any]) -> dict[str, str]:
    """Return a service's environment as a mapping (Compose allows a list of K=V, too)."""
    env = svc.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(key): "" if value is None else str(value) for key, value in env.items()}


def command(svc: dict[str, Any]) -> list[str]:
    cmd = svc.get("command")
    return shlex.split(cmd) if isinstance(cmd, str) else list(cmd or [])


def published_ports(svc: dict[str, Any]) -> list[tuple[int, int]]:
    """Return (host port, container port) pairs, ranges expanded."""

    def expand(text: str) -> list[int]:
        first, _, last = str(text).partition("-")
        return list(range(int(first), int(last or first) + 1))

    pairs = []
    for port in svc.get("ports", []):
        if isinstance(port, dict):
            hosts, containers = expand(port["published"]), expand(port["target"])
        else:
            parts = str(port).split("/")[0].split(":")
            assert len(parts) in (2, 3), f"{port!r} publishes no fixed host port"
            hosts, containers = expand(parts[-2]), expand(parts[-1])
        if len(containers) == 1:
            containers = containers * len(hosts)
        assert len(hosts) == len(containers), port
        pairs.extend(zip(hosts, containers, strict=True))
    return pairs


def dockerfile_instructions() -> list[tuple[str, str]]:
    """Return (INSTRUCTION, arguments) pairs: comments dropped, continuations joined."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, args = (pending + line).partition(" ")
        instructions.append((keyword.upper(), args.strip()))
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    return instructions


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for keyword, args in dockerfile_instructions():
        if keyword == "FROM":
            stages.append([])
        assert stages, f"{keyword} before the first FROM"
        stages[-1].append((keyword, args))
    return stages


def args_of(stage: list[tuple[str, str]], keyword: str) -> list[str]:
    return [args for kw, args in stage if kw == keyword]


def copies(stage: list[tuple[str, str]]) -> list[tuple[dict[str, str], list[str], str]]:
    """Return (flags, sources, destination) for each COPY of a stage."""
    result = []
    for args in args_of(stage, "COPY"):
        words = shlex.split(args)
        flags = dict(w[2:].split("=", 1) for w in words if w.startswith("--"))
        paths = [w for w in words if not w.startswith("--")]
        result.append((flags, paths[:-1], paths[-1]))
    return result


def env_of(stage: list[tuple[str, str]]) -> dict[str, str]:
    env = {}
    for args in args_of(stage, "ENV"):
        for word in shlex.split(args):
            key, _, value = word.partition("=")
            env[key] = value
    return env


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep variables of the test process out of Settings()."""
    for key in list(os.environ):
        if key.upper() in FIELDS:
            monkeypatch.delenv(key)


def server_settings(name: str, **variables: str) -> Settings:
    """Build Settings from a server's compose environment, interpolated with ``variables``."""
    env = {key: interpolate(value, variables) for key, value in environment(service(name)).items()}
    return Settings(**{key.lower(): value for key, value in env.items()})


# --- compose.yaml ------------------------------------------------------------------------


def test_compose_has_exactly_the_services():
    assert set(load_compose()["services"]) == SERVICES


def test_compose_variables_are_settings_fields():
    for name, svc in load_compose()["services"].items():
        for key in environment(svc):
            if key.startswith("POSTGRES_"):
                assert name == "postgres", f"{name} sets {key}"
                continue
            assert key in FIELDS, f"{name} sets {key}, which is no Settings field"


def test_servers_share_the_production_environment():
    for name in (*SERVERS, "migrate"):
        assert environment(service(name)) == SERVER_ENV, name


def test_database_url_matches_postgres_credentials():
    pg = environment(service("postgres"))
    user, password, db = pg["POSTGRES_USER"], pg["POSTGRES_PASSWORD"], pg["POSTGRES_DB"]
    assert SERVER_ENV["DATABASE_URL"] == f"postgresql://{user}:{password}@postgres:5432/{db}"


@pytest.mark.parametrize("name", SERVERS)
@pytest.mark.usefixtures("clean_env")
def test_server_environment_passes_production_validation(name):
    secret = secrets.token_urlsafe(48)
    settings = server_settings(name, AUTH_SIGNING_SECRET=secret)
    assert settings.environment == "production"
    assert settings.production_problems() == []
    assert settings.auth_signing_secret == secret
    assert settings.database_url == "postgresql://hipster:hipster@postgres:5432/hipster"
    assert (
        settings.effective_database_url
        == "postgresql+asyncpg://hipster:hipster@postgres:5432/hipster"
    )
    assert settings.redis_url == "redis://redis:6379/0"
    assert settings.cors_origins == []
    assert settings.log_level == "INFO"


@pytest.mark.usefixtures("clean_env")
def test_server_environment_takes_optional_cors_origins():
    settings = server_settings(
        "server-1",
        AUTH_SIGNING_SECRET="s" * 32,
        CORS_ORIGINS="https://a.example, https://b.example",
    )
    assert settings.cors_origins == ["https://a.example", "https://b.example"]


@pytest.mark.usefixtures("clean_env")
def test_server_environment_needs_a_long_secret():
    with pytest.raises(MissingVariableError, match="32\\+ bytes"):
        server_settings("server-1")
    with pytest.raises(MissingVariableError):
        server_settings("server-1", AUTH_SIGNING_SECRET="")
    with pytest.raises(ValueError, match="at least 32 bytes"):
        server_settings("server-1", AUTH_SIGNING_SECRET="s" * 31)


def test_migrate_runs_db_upgrade_once():
    svc = service("migrate")
    assert command(svc) == ["hipster-timer", "db", "upgrade"]
    assert svc["build"] in (".", {"context": "."})
    assert svc["image"] == IMAGE
    assert svc["restart"] == "no"
    assert svc["depends_on"] == {"postgres": {"condition": "service_healthy"}}


@pytest.mark.parametrize("name", SERVERS)
def test_servers_wait_for_migrate_and_dependencies(name):
    svc = service(name)
    assert svc["image"] == IMAGE
    assert "build" not in svc
    assert "command" not in svc  # the image's CMD: hipster-timer serve
    assert svc["depends_on"] == {
        "migrate": {"condition": "service_completed_successfully"},
        "postgres": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
    }


def test_servers_publish_2614_and_2615():
    assert published_ports(service("server-1")) == [(2614, 2614)]
    assert published_ports(service("server-2")) == [(2615, 2614)]
    for name in SERVICES - set(SERVERS):
        assert published_ports(service(name)) == [], name


def test_backing_services_have_healthchecks():
    pg, redis = service("postgres"), service("redis")
    assert pg["image"] == "postgres:16"
    assert redis["image"] == "redis:7"
    assert "pg_isready" in " ".join(pg["healthcheck"]["test"])
    assert redis["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]


def test_interpolate_follows_compose_rules():
    assert interpolate("${A:-x}", {}) == "x"
    assert interpolate("${A:-x}", {"A": ""}) == "x"
    assert interpolate("${A-x}", {"A": ""}) == ""
    assert interpolate("a${A}b", {"A": "1"}) == "a1b"
    with pytest.raises(MissingVariableError):
        interpolate("${A:?no}", {"A": ""})


# --- Dockerfile --------------------------------------------------------------------------


def test_dockerfile_is_multi_stage_on_python_311_slim():
    stages = dockerfile_stages()
    assert len(stages) >= 2
    base, *_ = shlex.split(stages[-1][0][1])
    assert base == "python:3.11-slim"
    _, as_, builder = shlex.split(stages[0][0][1])
    assert as_.upper() == "AS"
    assert builder == "builder"
    assert any(flags.get("from") == builder for flags, _, _ in copies(stages[-1]))


def test_dockerfile_runs_as_non_root():
    users = args_of(dockerfile_stages()[-1], "USER")
    assert users, "the final stage sets no USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")


def test_dockerfile_exposes_port_and_checks_health():
    final = dockerfile_stages()[-1]
    assert "2614" in " ".join(args_of(final, "EXPOSE")).replace("/tcp", "").split()
    (check,) = args_of(final, "HEALTHCHECK")
    assert "CMD" in check.split()
    assert "/v1/health/live" in check
    assert "urllib.request" in check


def test_dockerfile_sets_host_and_data_dir():
    env = env_of(dockerfile_stages()[-1])
    assert env["HOST"] == "0.0.0.0"
    assert env["DATA_DIR"] == "/data"
    assert set(env) - {"PATH", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE"} <= FIELDS


def test_dockerfile_puts_migrations_next_to_server():
    # migrate.py looks for <parent of the server package>/migrations.
    assert Path(server.__file__).resolve().parents[1] / "migrations" == migrate.MIGRATIONS_DIR
    builder, final = dockerfile_stages()[0], dockerfile_stages()[-1]
    targets = {
        src.rstrip("/"): dest.rstrip("/") for _, srcs, dest in copies(builder) for src in srcs
    }
    assert targets["migrations"] == "/app/migrations"
    assert targets["server"] == "/app/server"
    assert ({"from": "builder"}, ["/app"], "/app") in copies(final)
    assert any("pip install -e /app" in run for run in args_of(builder, "RUN"))


def test_dockerfile_cmd_serves():
    (cmd,) = args_of(dockerfile_stages()[-1], "CMD")
    assert json.loads(cmd) == ["hipster-timer", "serve"]


# --- docs/configuration.md ---------------------------------------------------------------

_ROW = re.compile(r"^\| `(?P<name>[A-Za-z0-9_]+)` \| (?P<default>[^|]*) \|")


def documented_rows() -> dict[str, str]:
    rows: dict[str, str] = {}
    for line in CONFIG_DOC.read_text().splitlines():
        match = _ROW.match(line)
        if match:
            assert match["name"] not in rows, f"{match['name']} is documented twice"
            rows[match["name"]] = match["default"].strip()
    return rows


def default_matches(name: str, cell: str) -> bool:
    """Tell whether a table's default cell states the field's default exactly."""
    value = Settings.model_fields[name.lower()].get_default(call_default_factory=True)
    if value is None:
        return cell == "unset"
    if value == []:
        return cell == "empty"
    if not (len(cell) > 2 and cell[0] == cell[-1] == "`"):
        return False
    text = cell[1:-1]
    if isinstance(value, bool):
        return text == str(value).lower()
    if isinstance(value, float):
        return text == f"{value:g}"
    if isinstance(value, list):
        return text == ",".join(value)
    if isinstance(value, timedelta):
        return text[-1] in "smhd" and Settings(event_retention=text).event_retention == value
    return text == str(value)


def test_every_setting_is_documented():
    assert set(documented_rows()) == FIELDS


def test_docs_name_no_unknown_variable():
    text = CONFIG_DOC.read_text()
    named = set(re.findall(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b", text))
    assert named - FIELDS == set()
    assert set(documented_rows()) - FIELDS == set()


@pytest.mark.usefixtures("clean_env")
def test_docs_give_the_exact_defaults():
    rows = documented_rows()
    assert {name for name in FIELDS if not default_matches(name, rows.get(name, ""))} == set()


def test_docs_have_the_groups_and_sections():
    headings = re.findall(r"^## (.+)$", CONFIG_DOC.read_text(), flags=re.MULTILINE)
    assert headings[: len(DOC_GROUPS)] == DOC_GROUPS
    assert {"Durations", "Lists", "Production"} <= set(headings)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3600", timedelta(hours=1)),
        ("30s", timedelta(seconds=30)),
        ("15m", timedelta(minutes=15)),
        ("24h", timedelta(days=1)),
        ("7d", timedelta(days=7)),
        ("P7D", timedelta(days=7)),
        ("PT15M", timedelta(minutes=15)),
        ("P1DT12H", timedelta(days=1, hours=12)),
    ],
)
@pytest.mark.usefixtures("clean_env")
def test_documented_durations_parse(text, expected):
    assert f"`{text}`" in CONFIG_DOC.read_text()
    settings = Settings(event_retention=text, op_retention=text)
    assert settings.event_retention == expected
    assert settings.op_retention == expected
