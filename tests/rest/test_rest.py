"""Thin REST: health, request ids, the error envelope, bootstrap, bulk timer reads."""

from __future__ import annotations

import asyncio

from tests.wsclient import Device


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_health(client):
    response = await client.get("/health")
    assert response.status == 200
    assert await response.json() == {"status": "ok"}
    live = await client.get("/v1/health/live")
    assert await live.json() == {"status": "ok"}


async def test_ready_checks_the_database_and_redis(client):
    response = await client.get("/v1/health/ready")
    body = await response.json()
    assert response.status == 200
    assert body["status"] == "ok"
    assert body["checks"]["database"] == "ok"


async def test_ready_names_the_failing_check(start_server):
    server = await start_server(redis_url="redis://127.0.0.1:1/0")
    response = await server.get("/v1/health/ready")
    assert response.status == 503
    body = await response.json()
    assert body["checks"]["redis"] == "failing"
    assert body["error"]["code"] == "unavailable"
    assert body["error"]["details"] == {
        "failing": ["redis"],
        "reasons": {"redis": "unreachable (ConnectionError)"},
    }
    assert body["error"]["message"] == "failing: redis: unreachable (ConnectionError)"
    assert body["error"]["request_id"] == response.headers["X-Request-ID"]


async def test_request_id_is_echoed_or_generated(client):
    given = await client.get("/health", headers={"X-Request-ID": "abc-123"})
    assert given.headers["X-Request-ID"] == "abc-123"
    made = await client.get("/health")
    assert len(made.headers["X-Request-ID"]) == 16
    hostile = await client.get("/health", headers={"X-Request-ID": "bad id\twith spaces"})
    assert hostile.headers["X-Request-ID"] != "bad id\twith spaces"


async def test_unknown_route_gets_the_envelope(client):
    response = await client.get("/nope", headers={"X-Request-ID": "r1"})
    assert response.status == 404
    assert await response.json() == {
        "error": {"code": "not_found", "message": "Not Found", "details": {}, "request_id": "r1"}
    }


async def test_bootstrap_needs_a_bearer_token(client, token):
    for headers in ({}, {"Authorization": "Basic x"}, bearer("garbage")):
        response = await client.get("/v1/bootstrap", headers=headers)
        assert response.status == 401
        body = await response.json()
        assert body["error"]["code"] == "unauthorized"


async def test_bootstrap_returns_user_active_timers_and_cursor(client, token):
    dev = await Device.connect(client, token())
    running = await dev.ok("timer.start", {"allocated_ms": 60_000})
    done = await dev.ok("timer.start", {"allocated_ms": 60_000})
    await dev.ok("timer.stop", {"id": done["id"]})
    response = await client.get("/v1/bootstrap", headers=bearer(token()))
    body = await response.json()
    assert body["user"]["id"] == "alice"
    assert [t["id"] for t in body["timers"]] == [running["id"]]
    assert body["topics"] == {"user:alice": {"seq": 3}}
    assert body["epoch"] == dev.hello["epoch"]
    await dev.close()


async def test_timers_pages_with_filters(client, token):
    dev = await Device.connect(client, token())
    made = [await dev.ok("timer.start", {"allocated_ms": 1000, "title": f"t{i}"}) for i in range(7)]
    # Newest first; timers started in the same millisecond by id, descending.
    newest = [t["title"] for t in sorted(made, key=lambda t: (t["created_at"], t["id"]))][::-1]
    first = await (await client.get("/v1/timers?limit=4", headers=bearer(token()))).json()
    assert [t["title"] for t in first["items"]] == newest[:4]
    rest = await client.get(
        f"/v1/timers?limit=4&cursor={first['next_cursor']}", headers=bearer(token())
    )
    body = await rest.json()
    assert [t["title"] for t in body["items"]] == newest[4:]
    assert body["next_cursor"] is None
    running = await (
        await client.get("/v1/timers?status=COMPLETED", headers=bearer(token()))
    ).json()
    assert running["items"] == []
    await dev.close()


async def test_timers_refuses_bad_queries(client, token):
    for query in (
        "limit=0",
        "limit=5001",
        "status=DONE",
        "type=x",
        "cursor=zzz",
        "from=yesterday",
        "x=1",
    ):
        response = await client.get(f"/v1/timers?{query}", headers=bearer(token()))
        assert response.status == 422, query
        assert (await response.json())["error"]["code"] == "validation_error"


async def test_timers_only_shows_the_callers_own(client, token):
    dev = await Device.connect(client, token("bob"))
    await dev.ok("timer.start", {"allocated_ms": 1000})
    body = await (await client.get("/v1/timers", headers=bearer(token("alice")))).json()
    assert body["items"] == []
    await dev.close()


async def test_cors_preflight_from_settings(start_server):
    server = await start_server(cors_origins=["https://app.example"])
    response = await server.options(
        "/v1/timers",
        headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "Authorization",
        },
    )
    assert response.status == 200
    assert response.headers["Access-Control-Allow-Origin"] == "https://app.example"
    denied = await server.options(
        "/v1/timers",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "Access-Control-Allow-Origin" not in denied.headers


async def test_health_answers_while_a_large_read_runs(client, token):
    dev = await Device.connect(client, token())
    for _ in range(50):
        await dev.ok("timer.start", {"allocated_ms": 1000})
    bulk = asyncio.create_task(client.get("/v1/timers?limit=5000", headers=bearer(token())))
    health = await client.get("/health")
    assert health.status == 200
    assert len((await (await bulk).json())["items"]) == 50
    await dev.close()
