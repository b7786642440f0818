"""The OpenAPI document: valid 3.1, served as generated, naming every route; real answers fit it."""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp import web
from openapi_spec_validator import validate
from pydantic import BaseModel

from schema import export
from schema.errors import ErrorEnvelope
from schema.rest import NotReady
from server.app import create_app
from server.rest.routes import ROUTES, Route, openapi_document
from tests.rest.seed import seed_account

# Routes the OpenAPI document leaves to another: the WebSocket is in asyncapi.json.
DESCRIBED_ELSEWHERE = {("GET", "/v1/ws")}
WINDOW = "start=2026-03-01T00:00:00Z&end=2026-04-01T00:00:00Z"
# Requests whose answers are checked against the route's body model, by operation id;
# a route with a body model and no request here fails test_every_body_model_is_exercised.
REQUESTS: dict[str, list[str]] = {
    "health": ["/health"],
    "health.live": ["/v1/health/live"],
    "health.ready": ["/v1/health/ready"],
    "bootstrap": [
        "/v1/bootstrap",
        "/v1/bootstrap?schedules_start=2026-03-01T00:00:00Z"
        "&schedules_end=2026-04-01T00:00:00Z&tz=Europe/Paris",
    ],
    "timers.list": ["/v1/timers", "/v1/timers?owner_id=bob", "/v1/timers?limit=1"],
    "tag_groups.list": ["/v1/tags/groups"],
    "todos.list": ["/v1/todos", "/v1/todos?limit=1"],
    "schedules.list": [f"/v1/schedules?{WINDOW}", f"/v1/schedules?{WINDOW}&limit=2"],
    "friends.list": ["/v1/friends"],
    "meetings.get": ["/v1/meetings/{meeting_id}", "/v1/meetings/{meeting_id}?tz=Asia/Tokyo"],
    "meetings.result": [
        "/v1/meetings/{meeting_id}/result",
        "/v1/meetings/{meeting_id}/result?duration_minutes=60&min_people=2&tier=available",
    ],
    "holidays.list": [
        "/v1/holidays?country=KR&year=2025",
        "/v1/holidays?country=DE&subdivision=BY&start_year=2025&end_year=2026",
    ],
    "holidays.countries": ["/v1/holidays/countries"],
}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def route(operation_id: str) -> Route:
    (found,) = [r for r in ROUTES if r.operation_id == operation_id]
    return found


def assert_fits(model: type[BaseModel], body: Any) -> None:
    """Assert ``body`` is exactly an instance of ``model``: valid, with no field it lacks."""
    parsed = model.model_validate(body)
    assert parsed.model_dump(mode="json", exclude_unset=True) == body


def undescribed(app: web.Application) -> set[tuple[str, str]]:
    """Return the (method, path) of registered routes the OpenAPI document does not describe."""
    paths = openapi_document()["paths"]
    described = {(m.upper(), path) for path, item in paths.items() for m in item}
    registered = set()
    for registered_route in app.router.routes():
        path = registered_route.resource.canonical if registered_route.resource else ""
        registered.add((registered_route.method, path))
    # add_get answers HEAD too; the CORS library adds a preflight OPTIONS per resource.
    implied = {("HEAD", p) for m, p in registered if m == "GET"}
    implied |= {("OPTIONS", p) for _, p in registered}
    return registered - described - implied - DESCRIBED_ELSEWHERE


def test_document_is_valid_openapi_3_1():
    document = openapi_document()
    assert document["openapi"] == "3.1.0"
    validate(document)


def test_every_registered_route_is_described(make_settings):
    app = create_app(make_settings(cors_origins=["https://app.example.com"]))
    assert undescribed(app) == set()


def test_a_route_registered_outside_the_table_is_reported(make_settings):
    app = create_app(make_settings())

    async def handle_stray(request: web.Request) -> web.Response:
        return web.json_response({})

    app.router.add_post("/v1/stray", handle_stray)
    assert undescribed(app) == {("POST", "/v1/stray")}


def test_websocket_route_is_the_asyncapi_channel():
    assert {("GET", export.asyncapi()["channels"]["ws"]["address"])} == DESCRIBED_ELSEWHERE


def test_every_authenticated_route_names_the_bearer_scheme():
    document = openapi_document()
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    for declared in ROUTES:
        operation = document["paths"][declared.openapi_path()][declared.method.lower()]
        assert operation["security"] == ([{"bearer": []}] if declared.bearer else [])
        assert ("401" in operation["responses"]) == declared.bearer
        assert "500" in operation["responses"]


async def test_served_document_is_the_generated_file(client):
    response = await client.get("/v1/openapi.json")
    assert response.status == 200
    assert response.content_type == "application/json"
    body = await response.read()
    assert body == (export.GENERATED_DIR / export.OPENAPI_FILE).read_bytes()
    assert json.loads(body) == openapi_document()


async def test_docs_page_is_self_contained(client):
    response = await client.get("/v1/docs")
    assert response.status == 200
    assert response.content_type == "text/html"
    page = await response.text()
    assert 'fetch("openapi.json")' in page
    assert "://" not in page, "the page must load nothing but the document"
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy
    assert "script-src 'sha256-" in policy
    assert "connect-src 'self'" in policy


def test_every_body_model_is_exercised():
    with_body = {r.operation_id for r in ROUTES if r.body is not None}
    assert with_body - set(REQUESTS) == set(), "add a request for these routes to REQUESTS"


async def test_real_answers_are_exactly_their_models(client, token):
    seeded = await seed_account(client, token)
    for operation_id, paths in REQUESTS.items():
        model = route(operation_id).body
        assert model is not None
        for template in paths:
            path = template.format(meeting_id=seeded.meeting_id)
            response = await client.get(path, headers=bearer(token("alice")))
            assert response.status == 200, (path, await response.text())
            body = await response.json()
            assert_fits(model, body)
            items = body.get("items", body.get("todos", [1]))
            assert items, f"{path} answered no items: seed the account further"


async def test_error_answers_are_the_envelope(client, token):
    for path, headers, status in [
        ("/v1/timers", {}, 401),
        ("/v1/timers?limit=0", bearer(token()), 422),
        ("/v1/todos?tag_ids=" + str(uuid.uuid4()), bearer(token()), 404),
        ("/v1/calendar/nope.ics", {}, 404),
    ]:
        response = await client.get(path, headers=headers)
        assert response.status == status
        assert_fits(ErrorEnvelope, await response.json())
        assert response.headers["X-Request-ID"]


async def test_not_ready_is_its_model(start_server):
    server = await start_server(redis_url="redis://127.0.0.1:1/0")
    response = await server.get("/v1/health/ready")
    assert response.status == 503
    assert_fits(NotReady, await response.json())


async def test_non_json_answers_carry_their_documented_media_type(client, token):
    seeded = await seed_account(client, token)
    document = openapi_document()
    for path, declared in [
        (f"/v1/calendar/{seeded.feed_token}.ics", route("calendar.feed")),
        ("/v1/docs", route("docs")),
    ]:
        response = await client.get(path)
        assert response.status == 200
        operation = document["paths"][declared.openapi_path()]["get"]
        assert list(operation["responses"]["200"]["content"]) == [response.content_type]


UUID_PATTERN_END = "{12}$"


def longest_value(name: str, schema: dict[str, Any]) -> str:
    """Return the longest text a query parameter's schema allows."""
    if schema.get("type") == "array":
        items = [longest_value(name, schema["items"]) for _ in range(schema["maxItems"])]
        return ",".join(items)
    if schema.get("type") in ("integer", "number"):
        return str(schema["maximum"])
    if schema.get("type") == "boolean":
        return "false"
    if "enum" in schema:
        return max((str(v) for v in schema["enum"]), key=len)
    if schema.get("pattern", "").endswith(UUID_PATTERN_END):
        return str(uuid.uuid4())
    assert "maxLength" in schema, f"bound the query parameter {name} (maxLength)"
    return "\U0001d4e3" * schema["maxLength"]  # 4 bytes in UTF-8, 12 escaped


def longest_query(operation: dict[str, Any]) -> str:
    """Build the longest query the document allows: every parameter at its maximum."""
    parts = []
    for parameter in operation["parameters"]:
        if "$ref" in parameter or parameter["in"] != "query":
            continue
        value = longest_value(parameter["name"], parameter["schema"])
        parts.append(f"{parameter['name']}={quote(value)}")
    return "&".join(parts)


@pytest.mark.parametrize("declared", ROUTES, ids=lambda r: r.operation_id)
async def test_the_longest_query_reaches_the_route(client, token, declared):
    document = openapi_document()
    operation = document["paths"][declared.openapi_path()][declared.method.lower()]
    path = declared.openapi_path().replace("{token}", "x" * 100)
    query = longest_query(operation)
    response = await client.get(f"{path}?{query}", headers=bearer(token()))
    # The route answered (with its own error, often), not the HTTP layer's plain-text 400.
    assert response.status != 400
    assert response.content_type != "text/plain", await response.text()
