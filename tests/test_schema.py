"""The wire schema: generated files are fresh, commands match handlers, names follow the rules."""

from __future__ import annotations

import re

import pytest
from pydantic import BaseModel

from schema import export
from schema.commands import ALL_COMMANDS
from schema.events import DERIVED_EVENTS, EVENTS
from schema.frames import CLIENT_FRAMES
from server.app import build_registry

COMMAND_NAME = re.compile(r"^[a-z_]+(\.[a-z_]+){0,2}$")
EVENT_NAME = re.compile(r"^[a-z_]+\.[a-z_]+$")
EVENT_VERBS = frozenset({"created", "updated", "deleted", "removed", "due"})
COMMAND_NAMES = sorted(cmd.command_name() for cmd in ALL_COMMANDS)


def test_generated_files_are_up_to_date():
    rendered = export.render()
    present = {path.name for path in export.GENERATED_DIR.glob("*") if path.is_file()}
    stale = [
        name
        for name, text in sorted(rendered.items())
        if name not in present or (export.GENERATED_DIR / name).read_text(encoding="utf-8") != text
    ]
    extra = sorted(present - set(rendered))
    assert not stale, (
        f"schema/generated is stale ({', '.join(stale)}): run `python -m schema.export`"
    )
    assert not extra, f"schema/generated holds files render() does not produce: {extra}"


def test_render_is_deterministic():
    assert export.render() == export.render()
    for name, text in export.render().items():
        assert text.endswith("}\n"), name


def test_check_flag_reports_stale_files(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(export, "GENERATED_DIR", tmp_path)
    assert export.main(["--check"]) == 1
    assert "protocol.schema.json" in capsys.readouterr().err
    assert export.main([]) == 0
    assert export.main(["--check"]) == 0
    (tmp_path / export.ASYNCAPI_FILE).write_text("{}\n", encoding="utf-8")
    assert export.main(["--check"]) == 1
    err = capsys.readouterr().err
    assert "asyncapi.json" in err
    assert "protocol.schema.json" not in err


def test_every_command_has_a_handler_and_every_handler_a_command():
    registered = set(build_registry().names())
    declared = set(COMMAND_NAMES)
    assert declared - registered == set(), "commands without a handler in build_registry()"
    assert registered - declared == set(), "handlers of commands missing from ALL_COMMANDS"
    assert len(COMMAND_NAMES) == len(declared), "a command name is declared twice"


@pytest.mark.parametrize("cmd", ALL_COMMANDS, ids=lambda cmd: cmd.command_name())
def test_command_name_and_docstring(cmd):
    name = cmd.command_name()
    assert COMMAND_NAME.match(name), f"{name} is not `verb` or `domain.verb`"
    doc = (cmd.__dict__.get("__doc__") or "").strip()
    assert doc, f"{cmd.__name__} ({name}) needs a docstring"
    assert "\n" not in doc, f"{cmd.__name__} ({name}) needs a one-line docstring"


@pytest.mark.parametrize("cmd", ALL_COMMANDS, ids=lambda cmd: cmd.command_name())
def test_command_result_is_declared(cmd):
    if cmd.mutating:
        assert cmd.result is not None, f"mutating {cmd.command_name()} declares no result"
    if cmd.result is not None:
        assert issubclass(cmd.result, BaseModel)


@pytest.mark.parametrize("name", sorted(EVENTS))
def test_event_names(name):
    assert EVENT_NAME.match(name), f"{name} is not `<resource>.<what happened>`"
    verb = name.split(".", 1)[1]
    assert verb in EVENT_VERBS or verb.endswith("ed"), (
        f"{name}: an event is named with created/updated/deleted/removed/due or a past tense"
    )
    assert issubclass(EVENTS[name], BaseModel)


def test_protocol_schema_names_every_command_result_and_event():
    defs = export.protocol_schema()["$defs"]
    for name in COMMAND_NAMES:
        assert f"command:{name}" in defs
        assert f"result:{name}" in defs
    for name in EVENTS:
        assert f"event:{name}" in defs
    for name in ("error:body", "error:envelope", "client:auth", "server:hello", "server:tick"):
        assert name in defs


def test_asyncapi_lists_every_message():
    doc = export.asyncapi()
    assert doc["asyncapi"].startswith("3.")
    assert doc["channels"]["ws"]["address"] == "/v1/ws"
    sent = {ref["$ref"].rsplit("/", 1)[1] for ref in doc["operations"]["send"]["messages"]}
    received = {ref["$ref"].rsplit("/", 1)[1] for ref in doc["operations"]["receive"]["messages"]}
    assert sent == {"auth"} | {f"command.{name}" for name in COMMAND_NAMES}
    assert received == {
        "hello",
        "ready",
        "result",
        "error",
        "tick",
        "auth.expiring",
    } | {f"event.{name}" for name in {**EVENTS, **DERIVED_EVENTS}}
    messages = doc["components"]["messages"]
    schemas = doc["components"]["schemas"]
    for key in sent | received:
        assert key in doc["channels"]["ws"]["messages"]
        for ref in _refs(messages[key]["payload"]):
            assert ref.startswith("#/components/schemas/"), ref
            assert ref.rsplit("/", 1)[1] in schemas, ref


def _refs(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


def _unbounded_numbers(
    node: object, path: str, defs: dict[str, object], seen: set[str]
) -> list[str]:
    """Return the paths of integers and numbers in a JSON schema without a minimum and a maximum."""
    if isinstance(node, list):
        return [p for item in node for p in _unbounded_numbers(item, path, defs, seen)]
    if not isinstance(node, dict):
        return []
    if "$ref" in node:
        name = str(node["$ref"]).rsplit("/", 1)[-1]
        if name in seen:
            return []
        return _unbounded_numbers(defs[name], path, defs, seen | {name})
    found = []
    if node.get("type") in ("integer", "number"):
        low = "minimum" in node or "exclusiveMinimum" in node
        high = "maximum" in node or "exclusiveMaximum" in node
        if not (low and high):
            found.append(path)
    for key, sub in node.items():
        if key in ("properties", "$defs"):
            for name, child in sub.items():
                found += _unbounded_numbers(child, f"{path}.{name}", defs, seen)
        elif key in ("anyOf", "oneOf", "allOf", "items", "additionalProperties"):
            found += _unbounded_numbers(sub, path, defs, seen)
    return found


@pytest.mark.parametrize("model", [*ALL_COMMANDS, *CLIENT_FRAMES], ids=lambda m: m.__name__)
def test_every_number_a_client_sends_has_a_range(model):
    schema = model.model_json_schema()
    assert _unbounded_numbers(schema, model.__name__, schema.get("$defs", {}), set()) == []
