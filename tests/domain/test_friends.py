"""Friend requests, friendships and blocks over the real protocol, on the real database."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import event, select

from schema.commands.friends import FriendRequestResult
from schema.resources import Friendship
from server.domain.friends import actions
from server.state import STATE
from server.storage.tables import friendships
from tests.dbstate import refused, snapshot
from tests.wsclient import Device, new_op

MISSING = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
async def connect(client, token):
    """Connect a user whose token carries extra claims (an email)."""
    devices: list[Device] = []

    async def open_(user: str, **claims: Any) -> Device:
        dev = await Device.connect(client, token(user, **claims))
        devices.append(dev)
        return dev

    yield open_
    for dev in devices:
        await dev.close()


async def code_of(dev: Device) -> str:
    return str((await dev.ok("user.me"))["friend_code"])


async def ask(a: Device, b: Device, **kwargs: Any) -> dict[str, Any]:
    """``a`` asks ``b`` by friend code; return a's view of the friendship."""
    reply = await a.ok("friend.request", {"friend_code": await code_of(b)}, **kwargs)
    return dict(reply["friendship"])


async def befriend(a: Device, b: Device) -> dict[str, Any]:
    """Make a and b friends; return a's view of the friendship."""
    asked = await ask(a, b)
    await b.ok("friend.accept", {"id": asked["id"]})
    return dict((await a.ok("friend.list"))["items"][-1])


async def drain(dev: Device) -> list[dict[str, Any]]:
    """Return every event the device got since the last drain (a marker of its own ends it)."""
    op = new_op()
    await dev.ok("user.update", {"timezone": "UTC"}, op_id=op)
    got = []
    while True:
        while not dev.events:
            await dev.pump()
        frame = dev.events.pop(0)
        if frame["op_id"] == op and frame["name"] == "user.updated":
            return got
        got.append(frame)


def profile(user: str) -> dict[str, Any]:
    return {"id": user, "display_name": user, "avatar_url": None}


def shape(view: dict[str, Any]) -> tuple[Any, ...]:
    """The fields of a view that say who asked, where it stands, and who the other is."""
    return (
        view["status"],
        view["requester_id"],
        view["addressee_id"],
        view["blocked_by"],
        view["blocked_by_me"],
        view["friend"]["id"],
    )


async def rows(client) -> list[dict[str, Any]]:
    async with client.server.app[STATE].services.db.read() as conn:
        return [dict(r) for r in (await conn.execute(select(friendships))).mappings()]


# --- friend.request by code ---------------------------------------------------------------


async def test_request_by_code_creates_a_pending_request_both_parties_see(device):
    alice, bob = await device("alice"), await device("bob")
    code = await code_of(bob)
    reply = await alice.ok("friend.request", {"friend_code": code.lower()}, op_id=new_op())
    FriendRequestResult.model_validate(reply)
    mine = reply["friendship"]
    assert reply == {"requested": True, "friendship": mine}
    assert mine == {
        "id": mine["id"],
        "requester_id": "alice",
        "addressee_id": "bob",
        "status": "pending",
        "blocked_by": None,
        "blocked_by_me": False,
        "friend": profile("bob"),
        "created_at": mine["created_at"],
        "updated_at": mine["created_at"],
        "version": 1,
    }
    assert mine["created_at"].endswith("Z")
    (on_alice,) = await alice.wait_events(1)
    (on_bob,) = await bob.wait_events(1)
    assert on_alice["name"] == on_bob["name"] == "friendship.created"
    assert on_alice["topic"] == "user:alice"
    assert on_bob["topic"] == "user:bob"
    assert on_alice["data"] == mine
    assert on_bob["data"] == {**mine, "friend": profile("alice")}
    assert on_alice["op_id"] == on_bob["op_id"] is not None
    assert "audience" not in on_alice
    assert "audience" not in on_bob
    assert (await alice.ok("friend.requests", {"direction": "sent"}))["items"] == [mine]
    assert (await alice.ok("friend.requests"))["items"] == []
    assert (await bob.ok("friend.requests"))["items"] == [on_bob["data"]]
    assert (await bob.ok("friend.list"))["items"] == []


async def test_asking_again_answers_the_pending_request_without_an_event(device):
    alice, bob = await device("alice"), await device("bob")
    first = await ask(alice, bob)
    await drain(alice)
    await drain(bob)
    again = await ask(alice, bob, op_id=new_op())
    assert again == first
    assert await drain(alice) == []
    assert await drain(bob) == []


async def test_a_mutual_request_accepts_the_other_ones(client, device):
    alice, bob = await device("alice"), await device("bob")
    asked = await ask(alice, bob)
    await drain(alice)
    await drain(bob)
    reply = await ask(bob, alice)
    assert reply["id"] == asked["id"]
    assert shape(reply) == ("accepted", "alice", "bob", None, False, "alice")
    assert reply["version"] == 2
    (on_alice,) = await drain(alice)
    (on_bob,) = await drain(bob)
    assert on_alice["name"] == on_bob["name"] == "friendship.updated"
    assert on_bob["data"] == reply
    assert on_alice["data"] == {**reply, "friend": profile("bob")}
    (row,) = await rows(client)
    assert row["accepted_at"] is not None
    assert (await alice.ok("friend.list"))["items"] == [on_alice["data"]]
    assert (await bob.ok("friend.list"))["items"] == [reply]


async def test_simultaneous_requests_between_two_users_make_friends(client, device):
    alice, bob = await device("alice"), await device("bob")
    alice_code, bob_code = await code_of(alice), await code_of(bob)
    first, second = await asyncio.gather(
        alice.call("friend.request", {"friend_code": bob_code}),
        bob.call("friend.request", {"friend_code": alice_code}),
    )
    assert first["ok"], first
    assert second["ok"], second
    statuses = sorted(f["data"]["friendship"]["status"] for f in (first, second))
    assert statuses == ["accepted", "pending"]
    (row,) = await rows(client)
    assert row["status"] == "accepted"


async def test_refused_requests_change_nothing(client, device):
    alice, bob, carol = await device("alice"), await device("bob"), await device("carol")
    own = await code_of(alice)
    error = await refused(
        client, alice, "friend.request", {"friend_code": own.lower()}, "validation_error"
    )
    assert error["details"] == {"field": "friend_code"}
    unknown = await refused(client, alice, "friend.request", {"friend_code": "ZZZZ9"}, "not_found")
    assert unknown == {
        "code": "not_found",
        "message": "no user has this friend code",
        "details": {"friend_code": "ZZZZ9"},
    }
    await refused(client, alice, "friend.request", {}, "validation_error")
    both = {"friend_code": await code_of(bob), "email": "bob@example.com"}
    await refused(client, alice, "friend.request", both, "validation_error")
    # A pair blocked either way answers exactly as an unknown code does.
    await alice.ok("friend.block", {"user_id": "bob"})
    for asker, target in ((bob, alice), (alice, bob)):
        target_code = await code_of(target)
        error = await refused(
            client, asker, "friend.request", {"friend_code": target_code}, "not_found"
        )
        assert error == {**unknown, "details": {"friend_code": target_code}}
    await befriend(alice, carol)
    error = await refused(client, carol, "friend.request", {"friend_code": own}, "conflict")
    assert error["code"] == "conflict"


async def test_pending_requests_are_capped(client, device, monkeypatch):
    monkeypatch.setattr(actions, "MAX_PENDING_SENT", 2)
    alice = await device("alice")
    others = [await device(name) for name in ("bob", "carol", "dave")]
    await ask(alice, others[0])
    await ask(alice, others[1])
    code = await code_of(others[2])
    error = await refused(
        client, alice, "friend.request", {"friend_code": code}, "validation_error"
    )
    assert error["details"] == {"limit": 2}
    # Asking again, or answering the other's request, needs no room.
    assert (await ask(alice, others[0]))["status"] == "pending"
    assert (await ask(others[2], alice))["status"] == "pending"
    assert (await ask(alice, others[2]))["status"] == "accepted"


# --- accept, reject, cancel, remove -------------------------------------------------------


async def test_accept_makes_friends_on_both_topics(client, device):
    alice, bob = await device("alice"), await device("bob")
    asked = await ask(alice, bob)
    await drain(alice)
    await drain(bob)
    accepted = await bob.ok("friend.accept", {"id": asked["id"]}, op_id=new_op())
    Friendship.model_validate(accepted)
    assert shape(accepted) == ("accepted", "alice", "bob", None, False, "alice")
    assert accepted["version"] == 2
    assert accepted["created_at"] == asked["created_at"]
    (on_alice,) = await drain(alice)
    (on_bob,) = await drain(bob)
    assert on_alice["name"] == on_bob["name"] == "friendship.updated"
    assert on_bob["data"] == accepted
    assert on_alice["data"] == {**accepted, "friend": profile("bob")}
    assert (await rows(client))[0]["accepted_at"] is not None
    assert (await bob.ok("friend.requests"))["items"] == []
    assert (await alice.ok("friend.requests", {"direction": "sent"}))["items"] == []


@pytest.mark.parametrize(
    ("command", "by"), [("friend.reject", "addressee"), ("friend.cancel", "requester")]
)
async def test_reject_and_cancel_delete_the_request(client, device, command, by):
    alice, bob = await device("alice"), await device("bob")
    asked = await ask(alice, bob)
    await drain(alice)
    await drain(bob)
    actor, other = (bob, alice) if by == "addressee" else (alice, bob)
    gone = await actor.ok(command, {"id": asked["id"]}, op_id=new_op())
    Friendship.model_validate(gone)
    assert gone["status"] == "none"
    assert gone["id"] == asked["id"]
    assert gone["version"] == 2
    assert gone["blocked_by"] is None
    for dev in (actor, other):
        (deleted,) = await drain(dev)
        assert deleted["name"] == "friendship.deleted"
        assert deleted["data"] == {"id": asked["id"]}
    assert await rows(client) == []
    assert (await ask(alice, bob))["id"] != asked["id"]


async def test_remove_ends_a_friendship_for_both(client, device):
    alice, bob = await device("alice"), await device("bob")
    friendship = await befriend(alice, bob)
    await drain(alice)
    await drain(bob)
    gone = await bob.ok("friend.remove", {"id": friendship["id"]}, op_id=new_op())
    assert shape(gone) == ("none", "alice", "bob", None, False, "alice")
    for dev in (alice, bob):
        (deleted,) = await drain(dev)
        assert (deleted["name"], deleted["data"]) == (
            "friendship.deleted",
            {"id": friendship["id"]},
        )
    assert (await alice.ok("friend.list"))["items"] == []
    assert await rows(client) == []


async def test_answers_need_a_party_the_right_role_and_status(client, device):
    alice, bob, carol = await device("alice"), await device("bob"), await device("carol")
    pending = (await ask(alice, bob))["id"]
    for command in ("friend.accept", "friend.reject", "friend.cancel", "friend.remove"):
        for ident in (pending, MISSING):
            error = await refused(client, carol, command, {"id": ident}, "not_found")
            assert error["details"] == {"id": ident}
    await refused(client, alice, "friend.accept", {"id": pending}, "forbidden")
    await refused(client, alice, "friend.reject", {"id": pending}, "forbidden")
    await refused(client, bob, "friend.cancel", {"id": pending}, "forbidden")
    error = await refused(client, bob, "friend.remove", {"id": pending}, "invalid_transition")
    assert error["details"] == {"status": "pending"}
    await bob.ok("friend.accept", {"id": pending})
    for command, dev in (
        ("friend.accept", bob),
        ("friend.reject", bob),
        ("friend.cancel", alice),
    ):
        error = await refused(client, dev, command, {"id": pending}, "invalid_transition")
        assert error["details"] == {"status": "accepted"}
    await alice.ok("friend.block", {"user_id": "bob"})
    for command, dev in (("friend.accept", bob), ("friend.remove", alice), ("friend.remove", bob)):
        error = await refused(client, dev, command, {"id": pending}, "invalid_transition")
        assert error["details"] == {"status": "blocked"}
    await refused(client, alice, "friend.accept", {"id": "not-a-uuid"}, "validation_error")


# --- block and unblock --------------------------------------------------------------------


@pytest.mark.parametrize("before", ["none", "pending", "accepted"])
async def test_block_whatever_the_pair_was(client, device, before):
    alice, bob = await device("alice"), await device("bob")
    if before == "pending":
        await ask(bob, alice)
    elif before == "accepted":
        await befriend(bob, alice)
    await drain(alice)
    await drain(bob)
    blocked = await alice.ok("friend.block", {"user_id": "bob"}, op_id=new_op())
    Friendship.model_validate(blocked)
    requester, addressee = ("alice", "bob") if before == "none" else ("bob", "alice")
    assert shape(blocked) == ("blocked", requester, addressee, "alice", True, "bob")
    (on_alice,) = await drain(alice)
    (on_bob,) = await drain(bob)
    name = "friendship.created" if before == "none" else "friendship.updated"
    assert on_alice["name"] == on_bob["name"] == name
    assert on_alice["data"] == blocked
    assert on_bob["data"] == {**blocked, "blocked_by_me": False, "friend": profile("alice")}
    assert (await alice.ok("friend.list", {"status": "blocked"}))["items"] == [blocked]
    assert (await bob.ok("friend.list", {"status": "blocked"}))["items"] == []
    assert (await alice.ok("friend.list"))["items"] == []
    assert (await bob.ok("friend.requests"))["items"] == []


async def test_blocking_again_answers_the_row_without_an_event(device):
    alice, bob = await device("alice"), await device("bob")
    first = await alice.ok("friend.block", {"user_id": "bob"})
    await drain(alice)
    await drain(bob)
    assert await alice.ok("friend.block", {"user_id": "bob"}, op_id=new_op()) == first
    assert await drain(alice) == []
    assert await drain(bob) == []


async def test_block_refusals(client, device):
    alice = await device("alice")
    await refused(client, alice, "friend.block", {"user_id": "nobody"}, "not_found")
    await refused(client, alice, "friend.block", {"user_id": "alice"}, "validation_error")
    await refused(client, alice, "friend.block", {"user_id": ""}, "validation_error")


async def test_a_counter_block_keeps_the_first_after_one_side_unblocks(client, device):
    alice, bob = await device("alice"), await device("bob")
    await alice.ok("friend.block", {"user_id": "bob"})
    counter = await bob.ok("friend.block", {"user_id": "alice"})
    assert shape(counter) == ("blocked", "alice", "bob", "alice", True, "alice")
    await drain(alice)
    await drain(bob)
    # The first blocker lifts theirs: the counter-block stays, now the first.
    lifted = await alice.ok("friend.unblock", {"user_id": "bob"}, op_id=new_op())
    assert shape(lifted) == ("blocked", "alice", "bob", "bob", False, "bob")
    (on_alice,) = await drain(alice)
    (on_bob,) = await drain(bob)
    assert on_alice["name"] == on_bob["name"] == "friendship.updated"
    assert on_alice["data"] == lifted
    assert on_bob["data"] == {**lifted, "blocked_by_me": True, "friend": profile("alice")}
    assert (await alice.ok("friend.list", {"status": "blocked"}))["items"] == []
    assert (await bob.ok("friend.list", {"status": "blocked"}))["items"] == [on_bob["data"]]
    bob_code = await code_of(bob)
    await refused(client, alice, "friend.request", {"friend_code": bob_code}, "not_found")
    # Alice is still blocked and holds no block: she can neither lift nor delete it.
    error = await refused(client, alice, "friend.unblock", {"user_id": "bob"}, "forbidden")
    assert error["message"] == "a blocked user cannot lift or delete a block"
    await refused(client, alice, "friend.remove", {"id": lifted["id"]}, "invalid_transition")
    gone = await bob.ok("friend.unblock", {"user_id": "alice"})
    assert shape(gone) == ("none", "alice", "bob", None, False, "alice")
    for dev in (alice, bob):
        (deleted,) = await drain(dev)
        assert (deleted["name"], deleted["data"]) == ("friendship.deleted", {"id": gone["id"]})
    assert await rows(client) == []
    assert (await ask(alice, bob))["status"] == "pending"


async def test_a_blocked_user_cannot_unblock(client, device):
    alice, bob = await device("alice"), await device("bob")
    blocked = await alice.ok("friend.block", {"user_id": "bob"})
    error = await refused(client, bob, "friend.unblock", {"user_id": "alice"}, "forbidden")
    assert error["details"] == {"id": blocked["id"], "blocked_by": "alice"}
    await refused(client, bob, "friend.remove", {"id": blocked["id"]}, "invalid_transition")
    await refused(client, bob, "friend.reject", {"id": blocked["id"]}, "invalid_transition")
    await refused(client, bob, "friend.cancel", {"id": blocked["id"]}, "forbidden")
    assert (await alice.ok("friend.list", {"status": "blocked"}))["items"] == [blocked]


async def test_unblock_refusals(client, device):
    alice, bob, carol = await device("alice"), await device("bob"), await device("carol")
    error = await refused(client, alice, "friend.unblock", {"user_id": "bob"}, "not_found")
    assert error["details"] == {"user_id": "bob"}
    await refused(client, alice, "friend.unblock", {"user_id": "nobody"}, "not_found")
    await refused(client, alice, "friend.unblock", {"user_id": "alice"}, "validation_error")
    await ask(alice, bob)
    error = await refused(client, alice, "friend.unblock", {"user_id": "bob"}, "invalid_transition")
    assert error["details"] == {"status": "pending"}
    await befriend(alice, carol)
    error = await refused(
        client, carol, "friend.unblock", {"user_id": "alice"}, "invalid_transition"
    )
    assert error["details"] == {"status": "accepted"}


async def test_blocked_list_holds_only_the_callers_blocks(device):
    alice, carol = await device("alice"), await device("carol")
    await device("bob")
    mine = await alice.ok("friend.block", {"user_id": "bob"})
    await carol.ok("friend.block", {"user_id": "alice"})
    assert (await alice.ok("friend.list", {"status": "blocked"}))["items"] == [mine]
    assert (await alice.ok("friend.list"))["items"] == []


# --- reads ---------------------------------------------------------------------------------


async def test_lists_are_oldest_first_with_the_other_partys_profile(client, token, device):
    alice = await device("alice")
    named = await Device.connect(client, token("bob", name="Bob B."))
    try:
        others = [named, await device("carol"), await device("dave")]
        for other in others:
            await befriend(alice, other)
        listed = (await alice.ok("friend.list"))["items"]
        assert [f["friend"] for f in listed] == [
            {"id": "bob", "display_name": "Bob B.", "avatar_url": None},
            profile("carol"),
            profile("dave"),
        ]
        assert [f["created_at"] for f in listed] == sorted(f["created_at"] for f in listed)
        assert [f["friend"] for f in (await named.ok("friend.list"))["items"]] == [profile("alice")]
        erin, frank = await device("erin"), await device("frank")
        await ask(erin, alice)
        await ask(alice, frank)
        received = (await alice.ok("friend.requests", {"direction": "received"}))["items"]
        assert [shape(r) for r in received] == [("pending", "erin", "alice", None, False, "erin")]
        sent = (await alice.ok("friend.requests", {"direction": "sent"}))["items"]
        assert [shape(r) for r in sent] == [("pending", "alice", "frank", None, False, "frank")]
        await refused(client, alice, "friend.list", {"status": "pending"}, "validation_error")
        await refused(client, alice, "friend.requests", {"direction": "up"}, "validation_error")
    finally:
        await named.close()


async def test_lists_read_the_profiles_in_one_query(client, device):
    alice = await device("alice")
    engines = [e.sync_engine for e in client.server.app[STATE].services.db.engines]
    counts = []
    for name in ("bob", "carol", "dave"):
        await befriend(alice, await device(name))
        statements: list[str] = []

        def record(_conn, _cursor, statement, *_args, seen=statements):
            seen.append(statement)

        for engine in engines:
            event.listen(engine, "before_cursor_execute", record)
        try:
            await alice.ok("friend.list")
        finally:
            for engine in engines:
                event.remove(engine, "before_cursor_execute", record)
        counts.append(sum("FROM users" in s for s in statements))
    assert counts == [1, 1, 1]


# --- friend.request by email ---------------------------------------------------------------


async def test_email_requests_answer_identically_whoever_owns_the_address(client, connect):
    alice = await connect("alice", email="alice@example.com")
    bob = await connect("bob", email="bob@example.com")
    carol = await connect("carol", email="carol@example.com")
    dave = await connect("dave", email="dave@example.com")
    erin = await connect("erin", email="erin@example.com")
    await befriend(alice, bob)
    await alice.ok("friend.block", {"user_id": "carol"})
    await dave.ok("friend.block", {"user_id": "alice"})
    await ask(erin, alice)
    for dev in (alice, bob, carol, dave, erin):
        await drain(dev)
    lists = [
        await alice.ok("friend.list"),
        await alice.ok("friend.list", {"status": "blocked"}),
        await alice.ok("friend.requests"),
        await alice.ok("friend.requests", {"direction": "sent"}),
    ]
    addresses = [
        "nobody@example.com",  # no such user
        "Frank@Example.com",  # a user, signed in later
        "ALICE@example.com",  # the caller's own
        "bob@example.com",  # a friend
        "carol@example.com",  # blocked by the caller
        "dave@example.com",  # blocking the caller
        "erin@example.com",  # asked the caller already
    ]
    frank = await connect("frank", email="frank@example.com")
    await drain(frank)
    answers = []
    for address in addresses:
        frame = await alice.call("friend.request", {"email": address}, op_id=new_op())
        answers.append({k: v for k, v in frame.items() if k != "id"})
    assert answers == [{"type": "result", "ok": True, "data": {"requested": True}}] * 7
    assert await drain(alice) == []
    assert [
        await alice.ok("friend.list"),
        await alice.ok("friend.list", {"status": "blocked"}),
        await alice.ok("friend.requests"),
        await alice.ok("friend.requests", {"direction": "sent"}),
    ] == lists
    # Only Frank, matched in any letter case, was asked; he sees it as any request.
    (asked,) = await drain(frank)
    assert asked["name"] == "friendship.created"
    assert shape(asked["data"]) == ("pending", "alice", "frank", None, False, "alice")
    assert (await frank.ok("friend.requests"))["items"] == [asked["data"]]
    for dev in (bob, carol, dave, erin):
        assert await drain(dev) == []


async def test_an_email_request_stays_hidden_from_its_requester_until_accepted(client, connect):
    alice = await connect("alice")
    bob = await connect("bob", email="bob@example.com")
    await alice.ok("friend.request", {"email": "bob@example.com"})
    (asked,) = await drain(bob)
    ident = asked["data"]["id"]
    for command in ("friend.cancel", "friend.accept", "friend.reject", "friend.remove"):
        await refused(client, alice, command, {"id": ident}, "not_found")
    await refused(client, alice, "friend.unblock", {"user_id": "bob"}, "not_found")
    # Asking again, by email, changes nothing either.
    before = await snapshot(client)
    assert await alice.ok("friend.request", {"email": "bob@example.com"}) == {"requested": True}
    after = await snapshot(client)
    assert after["friendships"] == before["friendships"]
    accepted = await bob.ok("friend.accept", {"id": ident})
    (on_alice,) = await drain(alice)
    assert on_alice["name"] == "friendship.created"
    assert on_alice["data"] == {**accepted, "friend": profile("bob")}
    assert (await alice.ok("friend.list"))["items"] == [on_alice["data"]]


async def test_a_rejected_email_request_tells_its_requester_nothing(client, connect):
    alice = await connect("alice")
    bob = await connect("bob", email="bob@example.com")
    await alice.ok("friend.request", {"email": "bob@example.com"})
    (asked,) = await drain(bob)
    await bob.ok("friend.reject", {"id": asked["data"]["id"]})
    assert await drain(alice) == []
    assert await rows(client) == []


@pytest.mark.parametrize("then", ["code", "block"])
async def test_a_hidden_request_is_withdrawn_when_its_requester_acts_on_the_pair(
    client, connect, then
):
    alice = await connect("alice")
    bob = await connect("bob", email="bob@example.com")
    await alice.ok("friend.request", {"email": "bob@example.com"})
    (asked,) = await drain(bob)
    if then == "code":
        mine = await ask(alice, bob)
        assert shape(mine) == ("pending", "alice", "bob", None, False, "bob")
    else:
        mine = await alice.ok("friend.block", {"user_id": "bob"})
        assert shape(mine) == ("blocked", "alice", "bob", "alice", True, "bob")
    # Just as if there had been no request: a new row, version 1.
    assert mine["id"] != asked["data"]["id"]
    assert mine["version"] == 1
    (created,) = await drain(alice)
    assert (created["name"], created["data"]) == ("friendship.created", mine)
    withdrawn, made = await drain(bob)
    assert (withdrawn["name"], withdrawn["data"]) == (
        "friendship.deleted",
        {"id": asked["data"]["id"]},
    )
    assert made["name"] == "friendship.created"
    assert made["data"]["id"] == mine["id"]


async def test_a_blocked_email_requester_learns_of_the_block(connect):
    alice = await connect("alice")
    bob = await connect("bob", email="bob@example.com")
    await alice.ok("friend.request", {"email": "bob@example.com"})
    await drain(bob)
    blocked = await bob.ok("friend.block", {"user_id": "alice"})
    (on_alice,) = await drain(alice)
    assert on_alice["name"] == "friendship.created"
    assert shape(on_alice["data"]) == ("blocked", "alice", "bob", "bob", False, "bob")
    assert on_alice["data"]["id"] == blocked["id"]


async def test_hidden_requests_have_their_own_silent_cap(client, connect, monkeypatch):
    monkeypatch.setattr(actions, "MAX_PENDING_SENT", 1)
    alice = await connect("alice")
    bob = await connect("bob", email="bob@example.com")
    carol = await connect("carol", email="carol@example.com")
    dave = await connect("dave")
    for address in ("bob@example.com", "carol@example.com"):
        assert await alice.ok("friend.request", {"email": address}) == {"requested": True}
    assert len(await drain(bob)) == 1
    assert await drain(carol) == []
    # The visible cap does not count hidden requests, so it cannot reveal them.
    assert (await ask(alice, dave))["status"] == "pending"


# --- ending sight -------------------------------------------------------------------------


async def share(dev: Device, kind: str, ident: str, level: str, **lists: Any) -> Any:
    data = {"resource_type": kind, "resource_id": ident, "level": level, **lists}
    return await dev.ok("visibility.set", data)


async def test_unfriending_strips_both_allow_lists_in_the_same_transaction(client, device):
    alice, bob, carol = await device("alice"), await device("bob"), await device("carol")
    friendship = await befriend(alice, bob)
    await befriend(alice, carol)
    both = await alice.ok("timer.start", {"allocated_ms": 60_000})
    only_bob = await alice.ok("timer.start", {"allocated_ms": 60_000})
    bobs = await bob.ok("timer.start", {"allocated_ms": 60_000})
    await share(alice, "timer", both["id"], "selected", allowed_user_ids=["bob", "carol"])
    await share(alice, "timer", only_bob["id"], "selected", allowed_user_ids=["bob"])
    await share(bob, "timer", bobs["id"], "selected", allowed_user_ids=["alice"])
    await drain(alice)
    await drain(bob)
    op = new_op()
    await alice.ok("friend.remove", {"id": friendship["id"]}, op_id=op)
    on_alice = await drain(alice)
    assert [(e["name"], e["data"]["id"]) for e in on_alice[:1]] == [
        ("friendship.deleted", friendship["id"])
    ]
    assert sorted((e["name"], e["data"]["id"]) for e in on_alice[1:]) == sorted(
        [("timer.updated", both["id"]), ("timer.updated", only_bob["id"])]
    )
    stripped = {e["data"]["id"]: e["data"]["visibility"] for e in on_alice[1:]}
    assert stripped == {
        both["id"]: {"level": "selected", "allowed_user_ids": ["carol"]},
        only_bob["id"]: {"level": "private"},
    }
    assert {e["op_id"] for e in on_alice} == {op}
    assert [e["batch"] for e in on_alice] == [{"index": i, "size": 3} for i in (1, 2, 3)]
    on_bob = await drain(bob)
    assert [(e["name"], e["data"]["id"]) for e in on_bob] == [
        ("friendship.deleted", friendship["id"]),
        ("timer.updated", bobs["id"]),
    ]
    assert on_bob[1]["data"]["visibility"] == {"level": "private"}
    assert {e["op_id"] for e in on_bob} == {op}
    got = await alice.ok("visibility.get", {"resource_type": "timer", "resource_id": both["id"]})
    assert got["allowed_user_ids"] == ["carol"]


async def test_blocking_a_friend_strips_both_allow_lists(device):
    alice, bob = await device("alice"), await device("bob")
    await befriend(alice, bob)
    mine = await alice.ok("timer.start", {"allocated_ms": 60_000})
    bobs = await bob.ok("timer.start", {"allocated_ms": 60_000})
    await share(alice, "timer", mine["id"], "selected", allowed_user_ids=["bob"])
    await share(bob, "timer", bobs["id"], "selected", allowed_user_ids=["alice"])
    await drain(alice)
    await drain(bob)
    await bob.ok("friend.block", {"user_id": "alice"})
    for dev, timer in ((alice, mine), (bob, bobs)):
        first, second = await drain(dev)
        assert first["name"] == "friendship.updated"
        assert first["data"]["status"] == "blocked"
        assert (second["name"], second["data"]["id"]) == ("timer.updated", timer["id"])
        assert second["data"]["visibility"] == {"level": "private"}


# --- op_id replays ------------------------------------------------------------------------


async def test_op_id_replays_answer_the_first_reply_without_new_events(client, device):
    alice, bob = await device("alice"), await device("bob")
    code = await code_of(bob)
    op = new_op()
    first = await alice.call("friend.request", {"friend_code": code}, op_id=op)
    again = await alice.call("friend.request", {"friend_code": code}, op_id=op)
    assert "replayed" not in first
    assert again["replayed"] is True
    assert again["data"] == first["data"]
    ident = first["data"]["friendship"]["id"]
    accept_op = new_op()
    accepted = await bob.ok("friend.accept", {"id": ident}, op_id=accept_op)
    assert await bob.ok("friend.accept", {"id": ident}, op_id=accept_op) == accepted
    block_op = new_op()
    blocked = await alice.ok("friend.block", {"user_id": "bob"}, op_id=block_op)
    await drain(alice)
    await drain(bob)
    before = await snapshot(client)
    assert await alice.ok("friend.block", {"user_id": "bob"}, op_id=block_op) == blocked
    assert await snapshot(client) == before
    assert await drain(bob) == []
    error = await alice.error("friend.unblock", {"user_id": "bob"}, op_id=block_op)
    assert error["code"] == "conflict"
    email_op = new_op()
    reply = await alice.call("friend.request", {"email": "x@example.com"}, op_id=email_op)
    replay = await alice.call("friend.request", {"email": "x@example.com"}, op_id=email_op)
    assert (reply["data"], replay["data"], replay["replayed"]) == ({"requested": True},) * 2 + (
        True,
    )
