"""The OpenAPI builder on its own: declarations in, a valid document out, mistakes refused."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from openapi_spec_validator import validate
from pydantic import BaseModel, Field

from schema.base import Strict, Uuid
from schema.errors import ErrorCode
from schema.openapi import RouteDoc, openapi

TAGS = {"things": "Things."}
INFO = {"title": "Test", "version": "1"}


class ThingQuery(Strict):
    """Query parameters of a listing."""

    ids: Annotated[list[Uuid], Field(max_length=3)] | None = None
    limit: Annotated[int, Field(ge=1, le=10)] = 5
    name: str | None = Field(default=None, max_length=20, description="exact name")
    kind: str


class ThingPath(Strict):
    """The id in the path."""

    thing_id: Annotated[str, Field(max_length=10)]


class Thing(BaseModel):
    """One thing."""

    id: str


class ThingCreate(Strict):
    """A new thing."""

    name: str


class Gone(BaseModel):
    """A thing that went away."""

    error: dict[str, Any]
    when: str


def doc(*routes: RouteDoc) -> dict[str, Any]:
    document = openapi(routes, TAGS, INFO)
    validate(document)
    return document


def get(path: str = "/things", **fields: Any) -> RouteDoc:
    base: dict[str, Any] = {"operation_id": "things", "summary": "S.", "tag": "things"}
    return RouteDoc(method="GET", path=path, **(base | fields))


def test_query_models_become_parameters_a_url_can_carry():
    operation = doc(get(query=ThingQuery))["paths"]["/things"]["get"]
    params = {p.get("name"): p for p in operation["parameters"]}
    assert params["ids"]["style"] == "form"
    assert params["ids"]["explode"] is False
    assert params["ids"]["schema"]["type"] == "array"
    assert params["limit"]["schema"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 10,
        "default": 5,
    }
    assert params["name"]["schema"] == {"type": "string", "maxLength": 20}
    assert params["name"]["description"] == "exact name"
    assert params["kind"]["required"] is True
    assert params["limit"]["required"] is False
    assert {"$ref": "#/components/parameters/RequestId"} in operation["parameters"]
    assert set(operation["responses"]) == {"200", "401", "422", "500"}


def test_path_models_name_every_variable_of_a_constrained_path():
    route = get("/things/{thing_id:[a-z]+}.json", path_params=ThingPath, body=Thing)
    document = doc(route)
    operation = document["paths"]["/things/{thing_id}.json"]["get"]
    (param, _) = operation["parameters"]
    assert param == {
        "name": "thing_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "maxLength": 10},
    }
    assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Thing"
    }


def test_a_path_variable_without_its_model_is_refused():
    with pytest.raises(ValueError, match="path variables"):
        openapi([get("/things/{thing_id}")], TAGS, INFO)
    with pytest.raises(ValueError, match="path variables"):
        openapi([get("/things", path_params=ThingPath)], TAGS, INFO)


def test_a_request_body_implies_its_errors():
    route = RouteDoc(
        method="POST",
        path="/things",
        operation_id="things.create",
        summary="S.",
        tag="things",
        request=ThingCreate,
        body=Thing,
    )
    operation = doc(route)["paths"]["/things"]["post"]
    assert operation["requestBody"] == {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ThingCreate"}}},
    }
    assert set(operation["responses"]) == {"200", "400", "401", "413", "422", "500"}


def test_codes_of_one_status_share_a_response_and_narrow_the_envelope():
    route = get(bearer=False, errors=(ErrorCode.UNKNOWN_COMMAND, ErrorCode.NOT_FOUND))
    responses = doc(route)["paths"]["/things"]["get"]["responses"]
    assert set(responses) == {"200", "404", "500"}
    schema = responses["404"]["content"]["application/json"]["schema"]
    assert schema["allOf"][0] == {"$ref": "#/components/schemas/ErrorEnvelope"}
    assert schema["allOf"][1]["properties"]["error"]["properties"]["code"] == {
        "enum": ["not_found", "unknown_command"]
    }
    assert "`not_found`, `unknown_command`" in responses["404"]["description"]


def test_a_route_may_answer_an_error_with_its_own_body():
    route = get(bearer=False, error_bodies={ErrorCode.UNAVAILABLE: Gone})
    document = doc(route)
    schema = document["paths"]["/things"]["get"]["responses"]["503"]["content"]
    assert schema["application/json"]["schema"]["allOf"][0] == {"$ref": "#/components/schemas/Gone"}
    assert "Gone" in document["components"]["schemas"]


def test_other_media_types_are_strings():
    document = doc(
        get("/a.ics", media_type="text/calendar"),
        get("/b.zip", operation_id="b", media_type="application/zip"),
        get("/c.json", operation_id="c"),
    )
    content = {
        path: item["get"]["responses"]["200"]["content"] for path, item in document["paths"].items()
    }
    assert content["/a.ics"] == {"text/calendar": {"schema": {"type": "string"}}}
    assert content["/b.zip"] == {
        "application/zip": {"schema": {"type": "string", "contentMediaType": "application/zip"}}
    }
    assert content["/c.json"] == {"application/json": {"schema": {"type": "object"}}}


def test_declared_headers_are_required_on_success():
    operation = doc(get(headers={"ETag": "the content's hash"}))["paths"]["/things"]["get"]
    headers = operation["responses"]["200"]["headers"]
    assert headers["ETag"] == {
        "description": "the content's hash",
        "required": True,
        "schema": {"type": "string"},
    }
    assert headers["X-Request-ID"] == {"$ref": "#/components/headers/RequestId"}


def test_public_routes_have_no_security_and_no_401():
    operation = doc(get(bearer=False))["paths"]["/things"]["get"]
    assert operation["security"] == []
    assert set(operation["responses"]) == {"200", "500"}


def test_duplicates_and_undescribed_tags_are_refused():
    with pytest.raises(ValueError, match="declared twice"):
        openapi([get(), get(operation_id="again")], TAGS, INFO)
    with pytest.raises(ValueError, match="tags without a description"):
        openapi([get(tag="stuff")], TAGS, INFO)
