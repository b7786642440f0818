"""docs/protocol.md documents every command, event, error code and close code, and no more.

Conventions the reference follows (and this test enforces):

- every command has a heading ``### `<name>``` under ``## Commands``, and every
  event a heading ``### `<name>``` under ``## Events`` (the events of ``EVENTS``
  and the frames the fan-out derives from them, ``DERIVED_EVENTS``); no other
  level-3 heading is a backticked name, so a heading for a command or event that
  does not exist fails too;
- a command's section holds a fenced ``json`` example of its request frame (and
  usually of its result); an event's section an example event frame;
- every fenced ``json`` block parses, and one that is a frame validates against
  that frame's model (a command's data, a result's data, an event's data);
- every REST route has a heading ``### GET <path>`` under ``## REST``, and the
  holiday examples are what the holiday engine answers (shortened lists keep
  their order);
- ``## Error codes`` has a table row ``| `<code>` | <HTTP status> | ...`` per
  ErrorCode; ``## Close codes`` a row ``| <code> | ...`` per close code the
  server uses;
- ``## REST`` has a heading ``### <METHOD> <path>`` per route of the REST route
  table (``server/rest/routes.py``), path as in the OpenAPI document, and no
  heading for a route that does not exist.
"""

from __future__ import annotations

import base64
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from schema.base import Command
from schema.errors import HTTP_STATUS, ErrorCode
from schema.events import DERIVED_EVENTS, EVENTS
from schema.frames import (
    Auth,
    AuthExpiring,
    ErrorFrame,
    Event,
    Hello,
    Presence,
    Ready,
    ResultError,
    ResultOk,
    Tick,
)
from server.app import build_registry
from server.cli import DEFAULT_TTL_S, MAX_TTL_S, build_parser
from server.domain.holidays.engine import HolidayEngine
from server.domain.holidays.reads import country_views, list_holiday_views
from server.errors import ApiError
from server.rest.routes import ROUTES

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "protocol.md"
PROTOCOL_SOURCES = sorted((ROOT / "server" / "protocol").glob("*.py"))
# Every event name a client can receive: logged events, and the frames the fan-out
# derives from them for subscribers of another user's topic (``timer.removed``, ...).
DECLARED_EVENTS = {**EVENTS, **DERIVED_EVENTS}

NAMED_HEADING = re.compile(r"^### `([^`]+)`[ \t]*$", re.MULTILINE)
ROUTE_HEADING = re.compile(r"^### ([A-Z]+ /\S*)[ \t]*$", re.MULTILINE)
JSON_BLOCK = re.compile(r"^```json[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
CLOSE_CONSTANT = re.compile(
    r"^CLOSE_[A-Z0-9_]+\s*(?::\s*int\s*)?=\s*(\d+)\s*(?:#.*)?$", re.MULTILINE
)
FRAME_MODELS: dict[str, type[BaseModel]] = {
    "hello": Hello,
    "ready": Ready,
    "auth": Auth,
    "error": ErrorFrame,
    "event": Event,
    "tick": Tick,
    "auth.expiring": AuthExpiring,
    "presence": Presence,
}


@cache
def doc_text() -> str:
    return DOC.read_text(encoding="utf-8")


@cache
def commands() -> dict[str, type[Command]]:
    registry = build_registry()
    found = {}
    for name in registry.names():
        registered = registry.get(name)
        assert registered is not None
        found[name] = registered.model
    return found


def section(title: str) -> str:
    """Return the text under the level-2 heading ``title``, up to the next level-2 heading."""
    match = re.search(rf"^## {re.escape(title)}[ \t]*$", doc_text(), re.MULTILINE)
    assert match, f"docs/protocol.md has no `## {title}` section"
    rest = doc_text()[match.end() :]
    end = re.search(r"^## ", rest, re.MULTILINE)
    return rest[: end.start()] if end else rest


def subsections(text: str) -> dict[str, str]:
    """Map each ``### `name``` heading in ``text`` to its body (up to the next heading)."""
    found: dict[str, str] = {}
    heads = list(NAMED_HEADING.finditer(text))
    for i, head in enumerate(heads):
        stop = heads[i + 1].start() if i + 1 < len(heads) else len(text)
        body = text[head.end() : stop]
        other = re.search(r"^#{1,3} ", body, re.MULTILINE)
        name = head.group(1)
        assert name not in found, f"docs/protocol.md has two sections for `{name}`"
        found[name] = body[: other.start()] if other else body
    return found


def json_blocks(text: str) -> list[Any]:
    blocks = []
    for match in JSON_BLOCK.finditer(text):
        try:
            blocks.append(json.loads(match.group(1)))
        except json.JSONDecodeError as exc:
            snippet = match.group(1)[:200]
            pytest.fail(f"a ```json block in docs/protocol.md does not parse ({exc}):\n{snippet}")
    return blocks


def table_first_cells(text: str) -> dict[str, list[str]]:
    """Map the first cell of each table row (backticks stripped) to the row's cells."""
    rows = {}
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("|") or set(line) <= {"|", "-", " ", ":"}:
            continue
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows[cells[0].strip("`")] = cells
    return rows


def test_every_command_has_a_section():
    documented = subsections(section("Commands"))
    missing = sorted(set(commands()) - set(documented))
    assert not missing, f"docs/protocol.md lacks a `### \\`name\\`` section for {missing}"


def test_every_event_has_a_section():
    documented = subsections(section("Events"))
    missing = sorted(set(DECLARED_EVENTS) - set(documented))
    assert not missing, f"docs/protocol.md lacks a `### \\`name\\`` section for {missing}"


def test_docs_name_no_command_or_event_that_does_not_exist():
    in_commands = set(subsections(section("Commands")))
    in_events = set(subsections(section("Events")))
    everywhere = set(NAMED_HEADING.findall(doc_text()))
    assert in_commands <= set(commands()), (
        f"documented commands that are not registered: {sorted(in_commands - set(commands()))}"
    )
    assert in_events <= set(DECLARED_EVENTS), (
        f"documented events that are not declared: {sorted(in_events - set(DECLARED_EVENTS))}"
    )
    stray = everywhere - in_commands - in_events
    assert not stray, f"`### \\`name\\`` headings outside Commands and Events: {sorted(stray)}"


@pytest.mark.parametrize("name", sorted(commands()))
def test_command_section_has_a_valid_example(name):
    body = subsections(section("Commands")).get(name)
    if body is None:
        pytest.skip("reported by test_every_command_has_a_section")
    model = commands()[name]
    frames = [b for b in json_blocks(body) if isinstance(b, dict)]
    requests = [frame for frame in frames if frame.get("type") == name]
    assert requests, f'the `{name}` section needs a ```json example with "type": "{name}"'
    for frame in requests:
        model.model_validate(frame)
    results = [frame for frame in frames if frame.get("type") == "result" and frame.get("ok")]
    if model.result is not None:
        for frame in results:
            model.result.model_validate(frame["data"])
            refuse_extra(model.result, frame["data"], f"{name}'s result")


@pytest.mark.parametrize("name", sorted(DECLARED_EVENTS))
def test_event_section_has_a_valid_example(name):
    body = subsections(section("Events")).get(name)
    if body is None:
        pytest.skip("reported by test_every_event_has_a_section")
    frames = [
        b
        for b in json_blocks(body)
        if isinstance(b, dict) and b.get("type") == "event" and b.get("name") == name
    ]
    assert frames, f'the `{name}` section needs a ```json event frame with "name": "{name}"'
    for frame in frames:
        check_event(frame)


def check_event(frame: dict[str, Any]) -> None:
    """Validate an event frame and its data, which may hold no field its model lacks."""
    Event.model_validate(frame)
    model = DECLARED_EVENTS[frame["name"]]
    model.model_validate(frame["data"])
    refuse_extra(model, frame["data"], f"{frame['name']} data")


def refuse_extra(model: Any, data: Any, what: str) -> None:
    """Fail when an example's object has a field its model lacks (the model ignores it)."""
    if isinstance(data, dict) and hasattr(model, "model_fields"):
        extra = set(data) - set(model.model_fields)
        assert not extra, f"{what} has fields its model lacks: {sorted(extra)}"


def test_every_json_example_parses_and_matches_its_frame_model():
    for block in json_blocks(doc_text()):
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            continue
        kind = block["type"]
        if kind == "result":
            (ResultOk if block.get("ok") else ResultError).model_validate(block)
        elif kind == "event" and block.get("name") in DECLARED_EVENTS:
            check_event(block)
        elif kind in FRAME_MODELS:
            FRAME_MODELS[kind].model_validate(block)
        elif kind in commands():
            commands()[kind].model_validate(block)


def test_error_codes_table_lists_every_code_with_its_status():
    rows = table_first_cells(section("Error codes"))
    for code in ErrorCode:
        assert code.value in rows, f"the error codes table lacks `{code.value}`"
        cells = rows[code.value]
        assert len(cells) >= 3, f"the `{code.value}` row needs code, HTTP status and meaning"
        assert cells[1] == str(HTTP_STATUS[code]), (
            f"`{code.value}` is HTTP {HTTP_STATUS[code]}, the table says {cells[1]}"
        )


def server_close_codes() -> set[str]:
    codes = set()
    for path in PROTOCOL_SOURCES:
        codes |= set(CLOSE_CONSTANT.findall(path.read_text(encoding="utf-8")))
    return codes


def test_close_codes_table_lists_every_code_the_server_uses():
    codes = server_close_codes()
    assert codes, "no CLOSE_* constants found in server/protocol"
    rows = table_first_cells(section("Close codes"))
    missing = sorted(codes - set(rows))
    assert not missing, f"the close codes table lacks {missing}"


# --- tokens (protocol.md) and the command line (operations.md) ---------------------------

OPERATIONS = ROOT / "docs" / "operations.md"
CLAIMS_SOURCE = ROOT / "server" / "auth" / "claims.py"
CLAIM_READ = re.compile(r"""claims(?:\.get\(|, )"([a-z_]+)"|"([a-z]+)": \{"essential\"""")


def subsection(text: str, title: str) -> str:
    """Return the text under the level-3 heading ``title``, up to the next heading."""
    match = re.search(rf"^### {re.escape(title)}[ \t]*$", text, re.MULTILINE)
    assert match, f"no `### {title}` section"
    rest = text[match.end() :]
    end = re.search(r"^#{2,3} ", rest, re.MULTILINE)
    return rest[: end.start()] if end else rest


def test_claims_table_names_every_claim_the_server_reads():
    read = {a or b for a, b in CLAIM_READ.findall(CLAIMS_SOURCE.read_text(encoding="utf-8"))}
    assert {"sub", "exp", "email", "email_verified", "iss", "aud"} <= read
    rows = table_first_cells(subsection(doc_text(), "Tokens and claims"))
    assert read - set(rows) == set()


def test_token_example_has_the_claims_the_embedded_issuer_mints():
    from server.auth.embedded import EmbeddedIssuer

    token = EmbeddedIssuer(b"k" * 32).mint("alice", email="alice@example.com", name="Alice")
    part = token.split(".")[1]
    minted = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    (example,) = json_blocks(subsection(doc_text(), "Tokens and claims"))
    assert set(example) == set(minted)
    assert example["exp"] - example["iat"] == DEFAULT_TTL_S


def test_token_lifetime_is_documented_as_the_cli_sets_it():
    for text in (subsection(doc_text(), "Tokens and claims"), OPERATIONS.read_text("utf-8")):
        assert f"{DEFAULT_TTL_S} seconds" in text or f"`{DEFAULT_TTL_S}`" in text
        assert str(MAX_TTL_S) in text


def cli_options() -> dict[str, set[str]]:
    """Map each command of the CLI to its option strings and choices."""
    found = {}
    subparsers = next(a for a in build_parser()._actions if a.dest == "command")
    for name, parser in subparsers.choices.items():
        words = set()
        for action in parser._actions:
            words |= {o for o in action.option_strings if o not in ("-h", "--help")}
            words |= {str(choice) for choice in action.choices or ()}
        found[name] = words
    return found


def test_operations_documents_every_cli_command_and_option():
    text = OPERATIONS.read_text("utf-8")
    start = text.index("\n## Command line\n")
    end = text.find("\n## ", start + 1)
    rows = [
        line
        for line in text[start : end if end > 0 else None].splitlines()
        if line.startswith("| `hipster-timer")
    ]
    for command, words in cli_options().items():
        lines = [row for row in rows if row.startswith(f"| `hipster-timer {command}")]
        assert lines, f"docs/operations.md has no row for `hipster-timer {command}`"
        missing = {word for word in words if not any(word in row for row in lines)}
        assert not missing, f"`hipster-timer {command}` rows lack {sorted(missing)}"


def test_rest_section_names_every_route_and_no_other():
    documented = set(ROUTE_HEADING.findall(section("REST")))
    routes = {f"{route.method} {route.openapi_path()}" for route in ROUTES}
    assert routes - documented == set(), "docs/protocol.md lacks `### METHOD /path` for these"
    assert documented - routes == set(), "docs/protocol.md documents routes that do not exist"


@pytest.mark.parametrize("name", ["holiday.list", "holiday.countries"])
def test_holiday_examples_are_what_the_engine_answers(name):
    engine = HolidayEngine()
    frames = [b for b in json_blocks(subsections(section("Commands"))[name]) if isinstance(b, dict)]
    requests = {f["id"]: f for f in frames if f.get("type") == name}
    answers = {f["id"]: f for f in frames if f.get("type") == "result"}
    assert set(answers) <= set(requests)
    for cid, answer in answers.items():
        cmd = commands()[name].model_validate(requests[cid])
        if not answer["ok"]:
            with pytest.raises(ApiError) as refused:
                answer_holiday_command(engine, cmd)
            assert answer["error"] == refused.value.body(), cid
            continue
        real = answer_holiday_command(engine, cmd)
        shown = answer["data"]
        # Examples shorten the lists: what they show must be in the real answer, in order.
        assert {k: v for k, v in shown.items() if k != "items"} == {
            k: v for k, v in real.items() if k != "items"
        }
        assert [item for item in real["items"] if item in shown["items"]] == shown["items"]


def answer_holiday_command(engine: HolidayEngine, cmd: Any) -> dict[str, Any]:
    if cmd.command_name() == "holiday.list":
        return list_holiday_views(engine, cmd.data)
    return country_views(engine)
