"""Every number a client sends has a range: out of range is a clear error, never a fault."""

from __future__ import annotations

import logging
import time

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey

from server.auth.claims import MAX_EXPIRY_S
from tests.conftest import SECRET
from tests.wsclient import Device

MAX_SAFE = 2**53 - 1


def signed(exp: float) -> str:
    """Mint a token of the test issuer with any ``exp``, even one the issuer refuses to mint."""
    now = int(time.time())
    claims = {"iss": "hipster-timer", "aud": "hipster-timer", "sub": "ana", "iat": now, "exp": exp}
    return jwt.encode({"alg": "HS256"}, claims, OctKey.import_key(SECRET.encode()))


def errors_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


async def refused_auth(client, frame: dict) -> tuple[dict, int | None]:
    """Send an auth frame that must be refused; return the error frame and the close code."""
    dev = await Device.open(client)
    await dev.ws.send_json(frame)
    error = await dev.receive()
    return error, await dev.wait_close()


@pytest.mark.parametrize("cursor", [2**63, MAX_SAFE + 1, -1, 1.5, "10"])
async def test_a_resume_cursor_out_of_range_is_a_validation_error(client, token, caplog, cursor):
    frame = {"type": "auth", "token": token("ana"), "resume": {"user:bob": cursor}}
    error, code = await refused_auth(client, frame)
    assert error["type"] == "error"
    assert error["error"]["code"] == "validation_error"
    assert code == 4401
    assert errors_logged(caplog) == []


async def test_the_largest_cursor_is_accepted(client, token):
    dev = await Device.connect(client, token("ana"), resume={"user:ana": MAX_SAFE})
    assert "user:ana" in dev.ready["topics"]
    await dev.close()


@pytest.mark.parametrize("since", [2**63, MAX_SAFE + 1, -1])
async def test_subscribe_since_out_of_range_is_a_validation_error(device, caplog, since):
    ana = await device("ana")
    error = await ana.error("subscribe", {"topic": "user:bob", "since": since})
    assert error["code"] == "validation_error"
    assert (await ana.error("subscribe", {"topic": "user:bob", "since": MAX_SAFE}))[
        "code"
    ] == "not_found"
    assert errors_logged(caplog) == []


async def test_if_version_has_a_range(device, caplog):
    ana = await device("ana")
    group = await ana.ok("tag_group.create", {"name": "g"})
    too_big = await ana.error("tag_group.update", {"id": group["id"], "if_version": 2**31})
    assert too_big["code"] == "validation_error"
    largest = await ana.error("tag_group.update", {"id": group["id"], "if_version": 2**31 - 1})
    assert largest == {
        "code": "conflict",
        "message": "the tag group was changed meanwhile",
        "details": {"version": 1},
    }
    assert errors_logged(caplog) == []


@pytest.mark.parametrize("exp", [1e300, 10**30, MAX_EXPIRY_S + 1])
async def test_a_token_expiring_after_year_9999_is_refused(client, caplog, exp):
    error, code = await refused_auth(client, {"type": "auth", "token": signed(exp)})
    assert error["error"] == {
        "code": "unauthorized",
        "message": "token has no valid expiry",
        "details": {},
    }
    assert code == 4401
    assert errors_logged(caplog) == []


async def test_the_latest_expiry_is_accepted(client):
    dev = await Device.connect(client, signed(MAX_EXPIRY_S))
    assert dev.ready["expires_at"] == "9999-12-31T23:59:59.000Z"
    await dev.close()


def test_the_issuer_refuses_to_mint_past_year_9999(issuer):
    with pytest.raises(ValueError, match="9999"):
        issuer.mint("ana", ttl_s=MAX_EXPIRY_S)


@pytest.mark.parametrize("cid", [MAX_SAFE + 1, -MAX_SAFE - 1, 2**63, 2**64 + 1])
async def test_a_command_id_out_of_range_is_a_bad_frame(device, cid):
    ana = await device("ana")
    await ana.ws.send_json({"id": cid, "type": "ping"})
    frame = await ana.receive()
    assert frame["type"] == "error"
    assert frame["error"]["code"] == "bad_frame"
    await ana.ws.send_json({"id": MAX_SAFE, "type": "ping"})
    reply = await ana.receive()
    assert (reply["id"], reply["ok"]) == (MAX_SAFE, True)


@pytest.mark.parametrize(
    ("command", "data"),
    [
        ("timer.start", {"allocated_ms": "60000"}),
        ("timer.start", {"allocated_ms": 60000.0}),
        ("tag_group.create", {"name": 5}),
        ("todo.list", {"limit": "10"}),
    ],
)
async def test_json_types_are_strict(device, command, data):
    ana = await device("ana")
    assert (await ana.error(command, data))["code"] == "validation_error"


async def test_rest_query_parameters_are_text_and_converted(client, token):
    headers = {"Authorization": f"Bearer {token('ana')}"}
    resp = await client.get("/v1/todos?limit=10", headers=headers)
    assert resp.status == 200
