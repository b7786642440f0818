"""Friends over REST: GET /v1/friends and the bootstrap's friends and requests."""

from __future__ import annotations

from typing import Any

from tests.wsclient import Device


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def befriend(a: Device, b: Device) -> None:
    code = (await b.ok("user.me"))["friend_code"]
    asked = await a.ok("friend.request", {"friend_code": code})
    await b.ok("friend.accept", {"id": asked["friendship"]["id"]})


async def get(client: Any, path: str, token: str) -> tuple[int, Any]:
    response = await client.get(path, headers=bearer(token))
    return response.status, await response.json()


async def test_friends_lists_the_accepted_friends_as_friend_list_does(client, token, device):
    alice, bob, carol = await device("alice"), await device("bob"), await device("carol")
    dave = await device("dave")
    await befriend(alice, bob)
    await befriend(carol, alice)
    await alice.ok("friend.request", {"friend_code": (await dave.ok("user.me"))["friend_code"]})
    status, body = await get(client, "/v1/friends", token("alice"))
    assert status == 200
    assert body == await alice.ok("friend.list")
    assert body["next_cursor"] is None
    assert [f["friend"]["id"] for f in body["items"]] == ["bob", "carol"]
    status, body = await get(client, "/v1/friends", token("dave"))
    assert (status, body) == (200, {"items": [], "next_cursor": None})


async def test_friends_needs_a_token_and_takes_no_query(client, token):
    response = await client.get("/v1/friends")
    assert response.status == 401
    assert (await response.json())["error"]["code"] == "unauthorized"
    status, body = await get(client, "/v1/friends?status=blocked", token())
    assert status == 422
    assert body["error"]["code"] == "validation_error"


async def test_bootstrap_carries_friends_and_requests(client, token, device):
    alice, bob, carol = await device("alice"), await device("bob"), await device("carol")
    dave = await Device.connect(client, token("dave", email="dave@example.com"))
    try:
        await befriend(alice, bob)
        await carol.ok(
            "friend.request", {"friend_code": (await alice.ok("user.me"))["friend_code"]}
        )
        await alice.ok("friend.request", {"email": "dave@example.com"})
        status, body = await get(client, "/v1/bootstrap", token("alice"))
        assert status == 200
        assert body["friends"] == (await alice.ok("friend.list"))["items"]
        assert body["friend_requests"] == {
            "received": (await alice.ok("friend.requests"))["items"],
            "sent": [],  # asked by email: hidden from the requester
        }
        assert [f["friend"]["id"] for f in body["friends"]] == ["bob"]
        assert [r["requester_id"] for r in body["friend_requests"]["received"]] == ["carol"]
        status, body = await get(client, "/v1/bootstrap", token("carol"))
        assert body["friends"] == []
        assert (
            body["friend_requests"]["sent"]
            == (await carol.ok("friend.requests", {"direction": "sent"}))["items"]
        )
        assert len(body["friend_requests"]["sent"]) == 1
        status, body = await get(client, "/v1/bootstrap", token("dave"))
        assert [r["requester_id"] for r in body["friend_requests"]["received"]] == ["alice"]
    finally:
        await dave.close()
