"""hello -> auth -> ready, and every way the handshake can fail."""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp

from tests.wsclient import Device


async def test_hello_is_the_first_frame_and_names_limits(client):
    dev = await Device.open(client)
    hello = dev.hello
    assert hello["protocol"] == 1
    assert hello["heartbeat_s"] == 25.0
    assert hello["server_time"].endswith("Z")
    assert len(hello["epoch"]) == 16
    assert hello["limits"]["max_message_bytes"] == 65536
    assert hello["limits"]["queue_max_frames"] == 1024
    await dev.close()


async def test_auth_succeeds_with_ready_user_and_own_topic(client, token):
    dev = await Device.connect(client, token("alice", email="Alice@Example.com", name="Alice"))
    ready = dev.ready
    assert ready["user"]["id"] == "alice"
    assert ready["user"]["display_name"] == "Alice"
    assert ready["user"]["email"] == "alice@example.com"
    assert ready["user"]["email_verified"] is True
    assert len(ready["user"]["friend_code"]) == 10
    assert ready["topics"] == {"user:alice": {"seq": 0}}
    assert ready["replayed"] == 0
    assert ready["reset"] == []
    assert ready["epoch"] == dev.hello["epoch"]
    await dev.close()


async def test_bad_token_gets_error_frame_then_4401(client, token, issuer):
    dev = await Device.open(client)
    forged = token("alice")[:-4] + "AAAA"
    await dev.ws.send_json({"type": "auth", "token": forged})
    frame = await dev.receive()
    assert frame["type"] == "error"
    assert frame["error"]["code"] == "unauthorized"
    assert await dev.wait_close() == 4401


async def test_expired_token_is_refused(client, issuer):
    dev = await Device.open(client)
    await dev.ws.send_json({"type": "auth", "token": issuer.mint("alice", ttl_s=1, now=1000.0)})
    frame = await dev.receive()
    assert frame["error"]["code"] == "unauthorized"
    assert await dev.wait_close() == 4401


async def test_first_frame_must_be_auth(client):
    dev = await Device.open(client)
    await dev.ws.send_json({"id": 1, "type": "ping"})
    frame = await dev.receive()
    assert frame == {
        "type": "error",
        "error": {"code": "unauthorized", "message": "the first frame must be auth", "details": {}},
    }
    assert await dev.wait_close() == 4401


async def test_auth_frame_with_unknown_field_is_validation_error(client, token):
    dev = await Device.open(client)
    await dev.ws.send_json({"type": "auth", "token": token(), "color": "red"})
    frame = await dev.receive()
    assert frame["error"]["code"] == "validation_error"
    assert frame["error"]["details"]["errors"][0]["loc"] == ["color"]
    assert await dev.wait_close() == 4401


async def test_guest_of_unknown_meeting_is_refused(client):
    dev = await Device.open(client)
    await dev.ws.send_json({"type": "auth", "guest": {"meeting": "abc", "participant_token": "x"}})
    frame = await dev.receive()
    assert frame["error"]["code"] == "unauthorized"
    assert await dev.wait_close() == 4401


async def test_no_auth_in_time_closes_4408(start_server):
    server = await start_server(ws_auth_timeout_s=0.2)
    dev = await Device.open(server)
    frame = await dev.receive()
    assert frame["error"]["message"] == "no auth frame in time"
    assert await dev.wait_close() == 4408


async def test_auth_in_time_is_not_timed_out_later(start_server, token):
    server = await start_server(ws_auth_timeout_s=0.3)
    dev = await Device.open(server)
    await dev.ws.send_json({"type": "auth", "token": token("alice")})
    assert (await dev.receive())["type"] == "ready"
    await asyncio.sleep(1.2)  # past the deadline, and two sweeps of the keepalive
    assert (await dev.call("timer.list"))["ok"] is True
    await dev.close()


async def test_binary_first_frame_is_refused(client):
    dev = await Device.open(client)
    await dev.ws.send_bytes(b"\x00\x01")
    frame = await dev.receive()
    assert frame["error"]["code"] == "bad_frame"
    assert await dev.wait_close() == 4401


async def test_token_in_url_is_not_accepted(client, token):
    dev = await Device.open(client)
    # The query string is ignored: the client still has to authenticate.
    await dev.ws.send_json({"id": 1, "type": "ping"})
    assert (await dev.receive())["error"]["code"] == "unauthorized"
    await dev.close()


async def test_profile_name_from_token_only_at_creation(client, token):
    first = await Device.connect(client, token("bob", name="Bob"))
    await first.ok("user.update", {"display_name": "Bobby"})
    await first.close()
    again = await Device.connect(client, token("bob", name="Robert"))
    assert again.ready["user"]["display_name"] == "Bobby"
    await again.close()


async def test_unverified_email_is_not_stored(client, issuer):
    from joserfc import jwt
    from joserfc.jwk import OctKey

    from tests.conftest import SECRET

    claims = {
        "iss": "hipster-timer",
        "aud": "hipster-timer",
        "sub": "carol",
        "iat": 1,
        "exp": 4_000_000_000,
    }
    claims.update(email="carol@example.com", email_verified=False)
    unverified = jwt.encode({"alg": "HS256"}, claims, OctKey.import_key(SECRET.encode()))
    dev = await Device.connect(client, unverified)
    assert dev.ready["user"]["email"] is None
    assert dev.ready["user"]["email_verified"] is False
    await dev.close()


async def test_auth_expiring_then_4401_at_expiry(start_server, issuer):
    server = await start_server(ws_auth_expiring_s=1.0)
    dev = await Device.connect(server, issuer.mint("alice", ttl_s=2))
    frame = await dev.receive(timeout=3)
    assert frame["type"] == "auth.expiring"
    assert await dev.wait_close(timeout=3) == 4401


async def test_auth_refresh_extends_the_session(start_server, issuer):
    server = await start_server(ws_auth_expiring_s=0.5)
    dev = await Device.connect(server, issuer.mint("alice", ttl_s=2))
    result = await dev.ok("auth.refresh", {"token": issuer.mint("alice", ttl_s=600)})
    assert result["expires_at"].endswith("Z")
    await asyncio.sleep(2.2)
    assert (await dev.ok("ping"))["server_time"]
    await dev.close()


async def test_auth_refresh_for_another_user_is_forbidden(device, issuer):
    dev = await device("alice")
    error = await dev.error("auth.refresh", {"token": issuer.mint("mallory")})
    assert error["code"] == "forbidden"
    assert (await dev.ok("ping"))["server_time"]


async def test_auth_refresh_with_bad_token_is_unauthorized(device):
    dev = await device("alice")
    error = await dev.error("auth.refresh", {"token": "not.a.token"})
    assert error["code"] == "unauthorized"


async def test_heartbeat_closes_a_silent_client_4408(start_server, token):
    server = await start_server(ws_heartbeat_s=0.2)
    ws = await server.ws_connect("/v1/ws", autoping=False)
    await ws.receive_json()
    await ws.send_json({"type": "auth", "token": token()})
    assert (await ws.receive_json())["type"] == "ready"
    pings = 0
    while True:
        msg = await ws.receive(timeout=3)
        if msg.type == aiohttp.WSMsgType.PING:
            pings += 1
            continue
        break
    assert pings >= 1
    assert ws.close_code == 4408


async def test_answering_pings_keeps_the_connection(start_server, token):
    server = await start_server(ws_heartbeat_s=0.2)
    dev = await Device.connect(server, token())
    # aiohttp's client answers pings while it reads, as every real client's reader does.
    with contextlib.suppress(TimeoutError):
        await dev.pump(timeout=1.0)
    assert (await dev.ok("ping"))["server_time"]
    await dev.close()


async def test_connect_limit_per_address_answers_429(start_server):
    server = await start_server(ws_connect_per_min=1, ws_connect_burst=2)
    first = await Device.open(server)
    second = await Device.open(server)
    response = await server.get("/v1/ws", headers={"Connection": "Upgrade", "Upgrade": "websocket"})
    assert response.status == 429
    body = await response.json()
    assert body["error"]["code"] == "rate_limited"
    assert body["error"]["request_id"] == response.headers["X-Request-ID"]
    # A token a minute: the next one comes in 60 s, told with up to as much again of jitter.
    retry_after_ms = body["error"]["details"]["retry_after_ms"]
    assert 59_000 <= retry_after_ms <= 120_000
    assert response.headers["Retry-After"] == str(-(-retry_after_ms // 1000))
    await first.close()
    await second.close()


async def test_login_refreshes_changed_claims_and_tells_devices(client, token):
    first = await Device.connect(client, token("dora", email="old@example.com"))
    assert first.ready["user"]["version"] == 1
    second = await Device.connect(client, token("dora", email="new@example.com"))
    assert second.ready["user"]["email"] == "new@example.com"
    assert second.ready["user"]["version"] == 2
    event = (await first.wait_events(1))[0]
    assert event["name"] == "user.updated"
    assert event["data"]["email"] == "new@example.com"
    third = await Device.connect(client, token("dora"))
    assert third.ready["user"]["email"] == "new@example.com"
    assert third.ready["user"]["version"] == 2
    for dev in (first, second, third):
        await dev.close()


async def test_many_connections_authenticate_at_once(client, token):
    devices = await asyncio.gather(*(Device.connect(client, token(f"u{i}")) for i in range(30)))
    assert all(dev.ready["type"] == "ready" for dev in devices)
    await asyncio.sleep(0.6)
    for dev in devices:
        assert (await dev.ok("ping"))["server_time"]
        await dev.close()
