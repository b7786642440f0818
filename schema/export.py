"""Export the wire models as JSON Schema, AsyncAPI and OpenAPI documents into ``schema/generated/``.

Run ``python -m schema.export`` after changing anything in ``schema/``; CI runs
``python -m schema.export --check``, which fails while the committed files are stale.

``protocol.schema.json`` is one JSON Schema (draft 2020-12) document. Its ``$defs``
hold every model under its class name, plus named entries that point at them:

- ``command:<name>``: the command frame a client sends (``x-mutating`` says
  whether an ``op_id`` makes it idempotent);
- ``result:<name>``: the ``data`` of that command's successful result;
- ``event:<name>``: the ``data`` of that event;
- ``client:<type>`` and ``server:<type>``: every other frame (``server:result.ok``
  and ``server:result.error`` are the two shapes of a result);
- ``client:frame`` and ``server:frame``: any frame in that direction;
- ``error:body`` and ``error:envelope``: the error object and the REST error body;
- ``rest:timers.query``: the query parameters of ``GET /v1/timers``.

``asyncapi.json`` is an AsyncAPI 3.0 document of the one channel ``/v1/ws``, written
from a client's point of view: ``send`` is what a client sends, ``receive`` what it
receives. Its schemas are self-contained under ``components.schemas``.

``openapi.json`` is the OpenAPI 3.1 document of the REST routes, built by
``schema/openapi.py`` from the route table (``server/rest/routes.py``, which holds each
route's handler beside its description) and served at ``GET /v1/openapi.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from schema.base import Command
from schema.commands import ALL_COMMANDS
from schema.errors import ErrorBody, ErrorEnvelope
from schema.events import DERIVED_EVENTS, EVENTS
from schema.frames import (
    CLIENT_FRAMES,
    SERVER_FRAMES,
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
from schema.rest import TimerListQuery

# Every event a client may receive: logged ones and those a friend topic derives.
ALL_EVENTS = {**EVENTS, **DERIVED_EVENTS}

GENERATED_DIR = Path(__file__).resolve().parent / "generated"
PROTOCOL_FILE = "protocol.schema.json"
ASYNCAPI_FILE = "asyncapi.json"
OPENAPI_FILE = "openapi.json"
CHANNEL_ADDRESS = "/v1/ws"
PROTOCOL_VERSION = 1

Mode = Literal["validation", "serialization"]

# Server frames by the name their def and message get ("result" has two shapes).
SERVER_FRAME_NAMES: dict[type[BaseModel], str] = {
    Hello: "hello",
    Ready: "ready",
    ResultOk: "result.ok",
    ResultError: "result.error",
    ErrorFrame: "error",
    Event: "event",
    Tick: "tick",
    AuthExpiring: "auth.expiring",
    Presence: "presence",
}
CLIENT_FRAME_NAMES: dict[type[BaseModel], str] = {Auth: "auth"}


def _commands() -> list[tuple[str, type[Command]]]:
    return sorted((cmd.command_name(), cmd) for cmd in ALL_COMMANDS)


def _results() -> list[tuple[str, type[BaseModel] | None]]:
    return [(name, cmd.result) for name, cmd in _commands()]


def _models() -> list[tuple[type[BaseModel], Mode]]:
    """Every model to export, with the direction it travels in (input or output)."""
    missing = set(SERVER_FRAMES) ^ set(SERVER_FRAME_NAMES)
    missing |= set(CLIENT_FRAMES) ^ set(CLIENT_FRAME_NAMES)
    if missing:
        names = ", ".join(sorted(m.__name__ for m in missing))
        raise RuntimeError(f"name these frames in schema/export.py: {names}")
    inputs: list[type[BaseModel]] = [cmd for _, cmd in _commands()]
    inputs += [*CLIENT_FRAMES, TimerListQuery]
    outputs: list[type[BaseModel]] = [model for _, model in _results() if model is not None]
    outputs += [*ALL_EVENTS.values(), *SERVER_FRAMES, ErrorBody, ErrorEnvelope]
    pairs: dict[type[BaseModel], Mode] = {}
    for model in inputs:
        pairs.setdefault(model, "validation")
    for model in outputs:
        if pairs.get(model, "serialization") != "serialization":
            raise RuntimeError(f"{model.__name__} is used both as input and as output")
        pairs[model] = "serialization"
    return sorted(pairs.items(), key=lambda pair: (pair[0].__module__, pair[0].__qualname__))


def _schemas(ref_template: str) -> tuple[dict[type[BaseModel], dict[str, Any]], dict[str, Any]]:
    """Return each model's reference and the shared definitions."""
    models = _models()
    refs, top = models_json_schema(models, ref_template=ref_template)
    by_model = {model: refs[(model, mode)] for model, mode in models}
    return by_model, top.get("$defs", {})


def _dump(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _ref_or_any(refs: dict[type[BaseModel], dict[str, Any]], model: type[BaseModel] | None) -> Any:
    if model is None:
        return {"description": "no result model is declared"}
    return dict(refs[model])


def protocol_schema() -> dict[str, Any]:
    """Build the JSON Schema document of every frame and payload."""
    refs, defs = _schemas("#/$defs/{model}")
    named: dict[str, Any] = {}
    for name, cmd in _commands():
        named[f"command:{name}"] = {**refs[cmd], "x-mutating": cmd.mutating}
    for name, result in _results():
        named[f"result:{name}"] = _ref_or_any(refs, result)
    for name, data in ALL_EVENTS.items():
        named[f"event:{name}"] = dict(refs[data])
    for model, name in CLIENT_FRAME_NAMES.items():
        named[f"client:{name}"] = dict(refs[model])
    for model, name in SERVER_FRAME_NAMES.items():
        named[f"server:{name}"] = dict(refs[model])
    named["client:frame"] = {
        "oneOf": [{"$ref": f"#/$defs/client:{name}"} for name in CLIENT_FRAME_NAMES.values()]
        + [{"$ref": f"#/$defs/command:{name}"} for name, _ in _commands()]
    }
    named["server:frame"] = {
        "oneOf": [{"$ref": f"#/$defs/server:{name}"} for name in SERVER_FRAME_NAMES.values()]
    }
    named["error:body"] = dict(refs[ErrorBody])
    named["error:envelope"] = dict(refs[ErrorEnvelope])
    named["rest:timers.query"] = dict(refs[TimerListQuery])
    clash = set(named) & set(defs)
    if clash:
        raise RuntimeError(f"definition names clash: {sorted(clash)}")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"Hipster Timer realtime protocol, version {PROTOCOL_VERSION}",
        "description": (
            "Every frame of the WebSocket protocol at /v1/ws and the REST error envelope. "
            "Generated by `python -m schema.export` from the models in schema/; "
            "docs/protocol.md explains them."
        ),
        "oneOf": [{"$ref": "#/$defs/client:frame"}, {"$ref": "#/$defs/server:frame"}],
        "$defs": {**defs, **named},
    }


def _message(
    name: str, title: str, summary: str, payload: dict[str, Any], correlated: bool = False
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "name": name,
        "title": title,
        "summary": summary,
        "contentType": "application/json",
        "payload": payload,
    }
    if correlated:
        message["correlationId"] = {"$ref": "#/components/correlationIds/commandId"}
    return message


def _summary(model: type[BaseModel] | None) -> str:
    doc = (model.__doc__ or "").strip() if model is not None else ""
    return doc.splitlines()[0] if doc else ""


def asyncapi() -> dict[str, Any]:
    """Build the AsyncAPI 3.0 document of the WebSocket channel."""
    refs, schemas = _schemas("#/components/schemas/{model}")
    send: dict[str, dict[str, Any]] = {}
    receive: dict[str, dict[str, Any]] = {}
    send["auth"] = _message(
        "auth",
        "auth",
        _summary(Auth)
        + " Must be the first frame; answered with ready or an error and close 4401.",
        refs[Auth],
    )
    for name, cmd in _commands():
        note = " Mutating: an op_id makes it idempotent." if cmd.mutating else ""
        send[f"command.{name}"] = _message(
            name, f"command {name}", _summary(cmd) + note, refs[cmd], correlated=True
        )
    receive["hello"] = _message("hello", "hello", _summary(Hello), refs[Hello])
    receive["ready"] = _message("ready", "ready", _summary(Ready), refs[Ready])
    receive["result"] = _message(
        "result",
        "result",
        "The reply to one command, matched by id: ok with data, or not ok with an error.",
        {"oneOf": [refs[ResultOk], refs[ResultError]]},
        correlated=True,
    )
    receive["error"] = _message("error", "error", _summary(ErrorFrame), refs[ErrorFrame])
    receive["tick"] = _message("tick", "tick", _summary(Tick), refs[Tick])
    receive["auth.expiring"] = _message(
        "auth.expiring", "auth.expiring", _summary(AuthExpiring), refs[AuthExpiring]
    )
    for name, data in ALL_EVENTS.items():
        payload = {
            "allOf": [
                refs[Event],
                {
                    "type": "object",
                    "properties": {"name": {"const": name}, "data": refs[data]},
                },
            ]
        }
        receive[f"event.{name}"] = _message(
            name,
            f"event {name}",
            f"A {name} event on a topic; its data is a {data.__name__}.",
            payload,
        )
    messages = {**send, **receive}
    channel_refs = {key: {"$ref": f"#/components/messages/{key}"} for key in messages}
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Hipster Timer realtime protocol",
            "version": str(PROTOCOL_VERSION),
            "description": (
                "One WebSocket carries commands, their results, change events and timer "
                "ticks. This document is written from a client's point of view: `send` "
                "lists what a client sends, `receive` what the server pushes or replies. "
                "Generated by `python -m schema.export`; docs/protocol.md is the reference."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            "embedded": {
                "host": "127.0.0.1:2614",
                "protocol": "ws",
                "description": "The embedded default (HOST, PORT); use wss behind TLS.",
            }
        },
        "channels": {
            "ws": {
                "address": CHANNEL_ADDRESS,
                "title": "The realtime WebSocket",
                "description": "Text frames, one JSON object each, UTF-8.",
                "servers": [{"$ref": "#/servers/embedded"}],
                "messages": channel_refs,
                "bindings": {"ws": {"method": "GET", "bindingVersion": "0.1.0"}},
            }
        },
        "operations": {
            "send": {
                "action": "send",
                "title": "Client to server",
                "summary": "auth first, then commands",
                "channel": {"$ref": "#/channels/ws"},
                "messages": [{"$ref": f"#/channels/ws/messages/{key}"} for key in send],
            },
            "receive": {
                "action": "receive",
                "title": "Server to client",
                "summary": "hello, ready, results, errors, events, ticks, auth.expiring",
                "channel": {"$ref": "#/channels/ws"},
                "messages": [{"$ref": f"#/channels/ws/messages/{key}"} for key in receive],
            },
        },
        "components": {
            "correlationIds": {
                "commandId": {
                    "description": "A command's id, echoed in its result.",
                    "location": "$message.payload#/id",
                }
            },
            "messages": messages,
            "schemas": schemas,
        },
    }


def rest_openapi() -> dict[str, Any]:
    """Build the OpenAPI document of the server's REST route table."""
    # The one import of server/ from schema/: the route table binds each description to
    # its handler, so it lives with the handlers; this runs at export time only.
    from server.rest.routes import openapi_document

    return openapi_document()


def render() -> dict[str, str]:
    """Return every generated file's name and text."""
    return {
        PROTOCOL_FILE: _dump(protocol_schema()),
        ASYNCAPI_FILE: _dump(asyncapi()),
        OPENAPI_FILE: _dump(rest_openapi()),
    }


def stale_files(directory: Path | None = None) -> list[str]:
    """Return the names of generated files that are missing or differ from render()."""
    directory = GENERATED_DIR if directory is None else directory
    stale = []
    for name, text in sorted(render().items()):
        path = directory / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            stale.append(name)
    return stale


def main(argv: Sequence[str] | None = None) -> int:
    """Write the generated files, or with --check report the stale ones (exit 1)."""
    parser = argparse.ArgumentParser(prog="python -m schema.export", description=__doc__)
    parser.add_argument(
        "--check", action="store_true", help="exit 1 when a generated file is stale; write nothing"
    )
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files()
        if stale:
            for name in stale:
                print(f"stale: schema/generated/{name}", file=sys.stderr)
            print("run `python -m schema.export` and commit the result", file=sys.stderr)
            return 1
        print("schema/generated is up to date")
        return 0
    GENERATED_DIR.mkdir(parents=True, exist_ok=True)
    for name, text in sorted(render().items()):
        path = GENERATED_DIR / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            print(f"wrote schema/generated/{name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
