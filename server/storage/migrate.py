"""Alembic migrations run from code (the CLI and `serve` on the embedded default)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import TextIO

from alembic import command
from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(url: str, stdout: TextIO | None = None) -> Config:
    """Build the Alembic config for an async database URL."""
    cfg = Config(stdout=stdout) if stdout is not None else Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` (blocking: call it outside the event loop)."""
    command.upgrade(alembic_config(url), revision)


def current(url: str) -> str:
    """Return the database's current revision as Alembic prints it."""
    out = io.StringIO()
    command.current(alembic_config(url, stdout=out))
    return out.getvalue().strip()
