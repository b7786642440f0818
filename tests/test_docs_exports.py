"""docs/exports.md describes the formats the code writes: columns, keys, parameters, files."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

from schema.exports import AccountManifest, ExportedTimer, TimerExportQuery
from server.domain.exports.resources import NOT_EXPORTED, RESOURCES
from server.domain.exports.timesheet import COLUMNS

DOC = Path(__file__).resolve().parent.parent / "docs" / "exports.md"


@cache
def text() -> str:
    return DOC.read_text(encoding="utf-8")


def part(heading: str) -> str:
    """Return the text under a heading (any level) up to the next heading of that level or above."""
    match = re.search(rf"^(#+) {re.escape(heading)}[ \t]*$", text(), re.MULTILINE)
    assert match, f"docs/exports.md has no heading {heading!r}"
    level = len(match.group(1))
    rest = text()[match.end() :]
    end = re.search(rf"^#{{1,{level}}} ", rest, re.MULTILINE)
    return rest[: end.start()] if end else rest


def table(body: str) -> list[list[str]]:
    """Return the rows of the first table in ``body`` (header and rule left out), cells unquoted."""
    rows = []
    for line in body.splitlines():
        if not line.startswith("|"):
            if rows:
                break
            continue
        if not set(line) <= {"|", "-", " ", ":"}:
            rows.append([cell.strip().strip("`") for cell in line.strip("|").split("|")])
    return rows[1:]


def fenced(body: str, lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", body, re.MULTILINE | re.DOTALL)


def test_the_column_table_is_the_csv_header_and_the_jsonl_keys():
    rows = table(part("The rows"))
    assert [r[0] for r in rows if r[0]] == list(COLUMNS)
    keys = {r[1] for r in rows}
    assert keys == set(ExportedTimer.model_fields), keys ^ set(ExportedTimer.model_fields)


def test_the_parameter_table_is_the_query_model():
    names = [r[0] for r in table(part("Query parameters"))]
    fields = [f.alias or name for name, f in TimerExportQuery.model_fields.items()]
    assert sorted(names) == sorted(fields)


def test_the_examples_are_what_the_code_writes():
    csv_text = fenced(part("CSV"), "text")[0]
    assert csv_text.splitlines()[0] == ",".join(COLUMNS)
    for line in fenced(part("JSON Lines"), "json")[0].splitlines():
        ExportedTimer.model_validate_json(line)
    AccountManifest.model_validate(json.loads(fenced(part("manifest.json"), "json")[0]))


def test_the_archive_tables_are_the_resource_list():
    files = [r[0] for r in table(part("Everything: `GET /v1/export/account`"))]
    assert files == [f"{r.name}.jsonl" for r in RESOURCES]
    excluded = table(part("Everything: `GET /v1/export/account`").split("Not exported")[1])
    assert {r[0] for r in excluded} == set(NOT_EXPORTED)
