"""setup.cfg holds only tool settings, and agrees with pyproject.toml where they overlap."""

from __future__ import annotations

import configparser
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


@cache
def setup_cfg() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ROOT / "setup.cfg", encoding="utf-8")
    return parser


@cache
def pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def items(value: str) -> list[str]:
    return [item.strip() for item in value.replace("\n", ",").split(",") if item.strip()]


def test_setup_cfg_configures_no_package_and_no_tool_pyproject_owns():
    # setuptools, pytest and mypy would each read a second source of these silently.
    owned = {"metadata", "options", "tool:pytest", "mypy", "pytest"}
    assert owned & set(setup_cfg().sections()) == set()
    assert {"flake8", "coverage:run", "coverage:report"} <= set(setup_cfg().sections())


def test_flake8_mirrors_ruff():
    flake8, ruff = setup_cfg()["flake8"], pyproject()["tool"]["ruff"]
    assert flake8.getint("max-line-length") == ruff["line-length"]
    assert set(ruff["extend-exclude"]) <= set(items(flake8["extend-exclude"]))
    ignores = dict(line.split(":") for line in items(flake8["per-file-ignores"]))
    ruff_ignores = ruff["lint"]["per-file-ignores"]
    assert {glob.rstrip("*"): codes for glob, codes in ruff_ignores.items()} == {
        glob.rstrip("*"): items(codes) for glob, codes in ignores.items()
    }


def test_coverage_measures_the_packages_the_project_ships():
    shipped = {
        name.rstrip("*")
        for name in pyproject()["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    assert set(items(setup_cfg()["coverage:run"]["source"])) == shipped
    assert set(pyproject()["tool"]["mypy"]["packages"]) == shipped
