"""The OpenAPI 3.1 document of the REST routes, built from their declarations and schema/ models.

A route is declared once, as a ``RouteDoc`` (the server's route table extends it with
the handler): method, path, summary, the models of its path and query parameters and
of its request body, its success body (a model, or a media type), and the error codes
it answers with. ``openapi(routes, tags)`` turns the declarations into the document;
every model lands under ``components.schemas`` by its class name, exactly as pydantic
writes its JSON Schema. Some errors follow from the declaration and are added for
every route that has it: ``unauthorized`` (401) with a bearer token,
``validation_error`` (422) with a query or body model (a path that does not match is
the route's own affair: a feed answers an impossible token with 404), ``bad_frame``
(400) and ``payload_too_large`` (413) with a body, ``internal_error`` (500) everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from schema.errors import HTTP_STATUS, ErrorCode, ErrorEnvelope

OPENAPI_VERSION = "3.1.0"
JSON = "application/json"
REF_TEMPLATE = "#/components/schemas/{model}"
# aiohttp writes a constrained path variable as {name:regex}; OpenAPI knows only {name}.
PATH_VARIABLE = re.compile(r"\{(\w+)(?::[^{}]*)?\}")

Mode = Literal["validation", "serialization"]


@dataclass(frozen=True, kw_only=True)
class RouteDoc:
    """A REST route as a client sees it; ``body`` is its JSON answer, else ``media_type``.

    ``headers`` names the headers every successful answer carries, with their meaning.
    """

    method: str
    path: str
    operation_id: str
    summary: str
    tag: str
    description: str = ""
    bearer: bool = True
    query: type[BaseModel] | None = None
    path_params: type[BaseModel] | None = None
    request: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    media_type: str = JSON
    headers: Mapping[str, str] = field(default_factory=dict)
    errors: tuple[ErrorCode, ...] = ()
    error_bodies: Mapping[ErrorCode, type[BaseModel]] = field(default_factory=dict)

    def error_codes(self) -> list[ErrorCode]:
        """Return every error code the route answers with: declared and implied."""
        implied = [ErrorCode.INTERNAL_ERROR]
        if self.bearer:
            implied.append(ErrorCode.UNAUTHORIZED)
        if self.query or self.request:
            implied.append(ErrorCode.VALIDATION_ERROR)
        if self.request:
            implied += [ErrorCode.BAD_FRAME, ErrorCode.PAYLOAD_TOO_LARGE]
        codes = set(implied) | set(self.errors) | set(self.error_bodies)
        return sorted(codes, key=lambda code: (HTTP_STATUS[code], code.value))

    def openapi_path(self) -> str:
        """Return the path in OpenAPI's template syntax."""
        return PATH_VARIABLE.sub(r"{\1}", self.path)

    def path_names(self) -> list[str]:
        """Return the names of the path's variables, in order."""
        return PATH_VARIABLE.findall(self.path)


def openapi(
    routes: Sequence[RouteDoc], tags: Mapping[str, str], info: Mapping[str, Any]
) -> dict[str, Any]:
    """Build the OpenAPI 3.1 document of ``routes``; ``tags`` maps each tag to its description."""
    refs, schemas = _schemas(routes)
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        operations = paths.setdefault(route.openapi_path(), {})
        if route.method.lower() in operations:
            raise ValueError(f"{route.method} {route.path} is declared twice")
        operations[route.method.lower()] = _operation(route, refs, schemas)
    used = {route.tag for route in routes}
    if used - set(tags):
        raise ValueError(f"tags without a description: {sorted(used - set(tags))}")
    return {
        "openapi": OPENAPI_VERSION,
        "info": dict(info),
        "tags": [{"name": name, "description": tags[name]} for name in tags if name in used],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": BEARER_SCHEME},
            "parameters": {"RequestId": REQUEST_ID_PARAMETER},
            "headers": {"RequestId": REQUEST_ID_HEADER},
        },
    }


BEARER_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "bearerFormat": "JWT",
    "description": "A token of the embedded issuer (`hipster-timer token create`) or of the "
    "configured OIDC issuer: the same tokens as the WebSocket's `auth` frame.",
}
REQUEST_ID_PARAMETER = {
    "name": "X-Request-ID",
    "in": "header",
    "required": False,
    "description": "Any value is accepted: it is echoed in the answer's X-Request-ID when it "
    "is 1..128 characters of `A-Z a-z 0-9 . _ : -`; otherwise the server makes one.",
    "schema": {"type": "string"},
}
REQUEST_ID_HEADER = {
    "description": "The request's id: the client's X-Request-ID, or one the server made.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 128},
}


def _schemas(
    routes: Sequence[RouteDoc],
) -> tuple[dict[type[BaseModel], str], dict[str, Any]]:
    """Return each model's name under components.schemas, and the schemas themselves."""
    pairs: dict[type[BaseModel], Mode] = {ErrorEnvelope: "serialization"}
    for route in routes:
        for model in (route.query, route.path_params, route.request):
            if model is not None:
                pairs[model] = "validation"
        for model in (route.body, *route.error_bodies.values()):
            if model is not None:
                pairs[model] = "serialization"
    models = sorted(pairs.items(), key=lambda pair: (pair[0].__module__, pair[0].__qualname__))
    found, top = models_json_schema(models, ref_template=REF_TEMPLATE)
    names = {model: found[(model, mode)]["$ref"].rsplit("/", 1)[1] for model, mode in models}
    return names, top.get("$defs", {})


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF_TEMPLATE.format(model=name)}


def _operation(
    route: RouteDoc, names: dict[type[BaseModel], str], schemas: dict[str, Any]
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": route.operation_id,
        "summary": route.summary,
        "tags": [route.tag],
    }
    if route.description:
        operation["description"] = route.description
    parameters = _path_parameters(route, names, schemas)
    if route.query is not None:
        parameters += _parameters(schemas[names[route.query]], "query")
    operation["parameters"] = [*parameters, {"$ref": "#/components/parameters/RequestId"}]
    if route.request is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {JSON: {"schema": _ref(names[route.request])}},
        }
    operation["security"] = [{"bearer": []}] if route.bearer else []
    operation["responses"] = {"200": _success(route, names), **_errors(route, names)}
    return operation


def _path_parameters(
    route: RouteDoc, names: dict[type[BaseModel], str], schemas: dict[str, Any]
) -> list[dict[str, Any]]:
    variables = route.path_names()
    model = route.path_params
    declared = [] if model is None else list(schemas[names[model]].get("properties", {}))
    if sorted(variables) != sorted(declared):
        raise ValueError(
            f"{route.path}: path variables {variables} differ from the path model's {declared}"
        )
    if model is None:
        return []
    return _parameters(schemas[names[model]], "path")


def _parameters(model_schema: dict[str, Any], location: str) -> list[dict[str, Any]]:
    """Describe each field of a parameter model as one parameter (query values are text)."""
    required = set(model_schema.get("required", []))
    parameters = []
    for name, prop in model_schema.get("properties", {}).items():
        schema = _parameter_schema(prop)
        parameter: dict[str, Any] = {
            "name": name,
            "in": location,
            "required": location == "path" or name in required,
        }
        description = schema.pop("description", None)
        if description:
            parameter["description"] = description
        if schema.get("type") == "array":
            # Lists travel comma-separated: ?tag_ids=a,b (the models split them).
            parameter |= {"style": "form", "explode": False}
        parameters.append({**parameter, "schema": schema})
    return parameters


def _parameter_schema(prop: dict[str, Any]) -> dict[str, Any]:
    """Drop the null a model allows for an absent parameter: a query value is never null."""
    schema = {key: value for key, value in prop.items() if key != "title"}
    options = schema.pop("anyOf", None)
    if options is not None:
        kept = [option for option in options if option != {"type": "null"}]
        if len(kept) == 1:
            schema |= kept[0]
        else:
            schema["anyOf"] = kept
    if "default" in schema and schema["default"] is None:
        del schema["default"]
    return schema


def _summary(model: type[BaseModel] | None, fallback: str) -> str:
    doc = (model.__doc__ or "").strip() if model is not None else ""
    return doc.splitlines()[0] if doc else fallback


def _success(route: RouteDoc, names: dict[type[BaseModel], str]) -> dict[str, Any]:
    if route.body is not None:
        schema: dict[str, Any] = _ref(names[route.body])
    elif route.media_type == JSON:
        schema = {"type": "object"}
    elif route.media_type.startswith("text/"):
        schema = {"type": "string"}
    else:
        schema = {"type": "string", "contentMediaType": route.media_type}
    headers: dict[str, Any] = {"X-Request-ID": {"$ref": "#/components/headers/RequestId"}}
    for name, meaning in route.headers.items():
        headers[name] = {"description": meaning, "required": True, "schema": {"type": "string"}}
    return {
        "description": _summary(route.body, route.summary),
        "headers": headers,
        "content": {route.media_type: {"schema": schema}},
    }


def _errors(route: RouteDoc, names: dict[type[BaseModel], str]) -> dict[str, Any]:
    """Describe each error status: the envelope (or the route's own body) and its codes."""
    by_status: dict[int, list[ErrorCode]] = {}
    for code in route.error_codes():
        by_status.setdefault(HTTP_STATUS[code], []).append(code)
    responses = {}
    for status, codes in sorted(by_status.items()):
        bodies = {route.error_bodies.get(code, ErrorEnvelope) for code in codes}
        if len(bodies) != 1:
            raise ValueError(f"{route.path}: status {status} has two error bodies")
        (body,) = bodies
        listed = ", ".join(f"`{code.value}`" for code in codes)
        responses[str(status)] = {
            "description": f"Error {listed}, as {body.__name__}.",
            "headers": {"X-Request-ID": {"$ref": "#/components/headers/RequestId"}},
            "content": {JSON: {"schema": _with_codes(names[body], codes)}},
        }
    return responses


def _with_codes(name: str, codes: list[ErrorCode]) -> dict[str, Any]:
    """Narrow an error body's ``error.code`` to the codes this status carries."""
    narrowed = {"type": "object", "properties": {"code": {"enum": [c.value for c in codes]}}}
    return {"allOf": [_ref(name), {"properties": {"error": narrowed}}]}
