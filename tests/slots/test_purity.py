"""The slots engine is pure: it imports the standard library and itself, nothing else."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import server.slots

PACKAGE = Path(server.slots.__file__).parent


def imported(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    return names | {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }


def test_the_engine_imports_only_the_standard_library_and_itself():
    modules = sorted(PACKAGE.glob("*.py"))
    assert len(modules) >= 5
    for path in modules:
        for name in imported(path):
            own = name == "server.slots" or name.startswith("server.slots.")
            assert own or name.split(".")[0] in sys.stdlib_module_names, (path.name, name)


def test_the_public_face_is_what_all_lists():
    public = {name for name in dir(server.slots) if not name.startswith("_")}
    modules = {"bits", "definition", "errors", "grid", "inputs", "tally", "viewer", "windows"}
    assert public - modules == set(server.slots.__all__)
