"""Every benchmark script loads and answers ``--help``.

The scripts import each other's helpers (``from ws_fanout import ...``), and
nothing else runs them: a helper renamed in one left another failing at its
first line unseen (``reconnect_storm.py``, 12-06 to 12-07). One subprocess
loads them all, as ``.venv/bin/python bench/<script>.py --help`` would.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
SCRIPTS = sorted(p.name for p in BENCH.glob("*.py") if p.name != "__init__.py")

# Runs each script as __main__ with --help; prints one JSON line per script.
CHECK = r"""
import contextlib, io, json, runpy, sys
bench, names = sys.argv[1], sys.argv[2:]
sys.path.insert(0, bench)
for name in names:
    path = f"{bench}/{name}"
    sys.argv = [path, "--help"]
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            runpy.run_path(path, run_name="__main__")
        code = None
    except SystemExit as exc:
        code = exc.code
    except BaseException as exc:
        code = repr(exc)
    print(json.dumps({"name": name, "code": code, "usage": "usage:" in out.getvalue()}))
"""


@pytest.fixture(scope="module")
def loaded() -> dict[str, dict[str, Any]]:
    """Load every script once, in one interpreter; return what each did."""
    run = subprocess.run(
        [sys.executable, "-c", CHECK, str(BENCH), *SCRIPTS],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    lines = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    assert run.returncode == 0, run.stderr[-2000:]
    return {line["name"]: line for line in lines}


@pytest.mark.parametrize("name", SCRIPTS)
def test_script_loads(loaded: dict[str, dict[str, Any]], name: str) -> None:
    """A script with a command line prints its usage and exits 0; a helper module imports."""
    source = (BENCH / name).read_text()
    result = loaded[name]
    if 'if __name__ == "__main__":' in source:
        assert (result["code"], result["usage"]) == (0, True), result
    else:
        assert result["code"] is None, result
