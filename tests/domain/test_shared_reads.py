"""Reading another user's timers and todos: the access matrix, lists with owner_id, REST.

One owner (olivia) holds a timer and a todo at every visibility level; each
viewer stands in one relation to her (friend, stranger, blocked either way, a
verified email, an unverified one, an email in another case). A resource the
viewer may not see answers exactly as a missing one does, and a non-owner
never sees an allow-list.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from server.clock import now_ms
from server.state import STATE
from server.storage.friendships import pair
from server.storage.tables import friendships
from tests.rest.test_rest import bearer
from tests.wsclient import Device

OWNER = "olivia"
MISSING = "00000000-0000-4000-8000-000000000000"
VOLATILE = ("visibility", "elapsed_ms", "server_time")

# The owner's resources, one per level (a title names it), and their visibility.
LEVELS: dict[str, dict[str, Any]] = {
    "private": {"level": "private"},
    "friends": {"level": "friends"},
    "selected": {"level": "selected", "allowed_user_ids": ["fay"]},
    "emails": {
        "level": "allowed_emails",
        "allowed_emails": ["vera@other.example", "CARL@other.example", "una@corp.example"],
    },
    "domain": {"level": "allowed_emails", "allowed_domains": ["corp.example"]},
    "public": {"level": "public"},
}

# Each viewer: how they sign in, how they stand to the owner, what they see.
VIEWERS: dict[str, dict[str, Any]] = {
    OWNER: {"sees": set(LEVELS)},
    "fred": {"relation": "friend", "sees": {"friends", "public"}},
    "fay": {
        "relation": "friend",
        "email": "fay@corp.example",
        "sees": {"friends", "selected", "domain", "public"},
    },
    "sam": {"sees": {"public"}},
    # Blocked either way: nothing, though their verified emails are in the domain.
    "bob": {"relation": "blocked_by_owner", "email": "bob@corp.example", "sees": set()},
    "bea": {"relation": "blocks_owner", "email": "bea@corp.example", "sees": set()},
    "vera": {"email": "vera@other.example", "sees": {"emails", "public"}},
    "dora": {"email": "dora@corp.example", "sees": {"domain", "public"}},
    # Listed by address and in the domain, but the token does not vouch for it.
    "una": {"email": "una@corp.example", "verified": False, "sees": {"public"}},
    "carl": {"email": "Carl@Other.EXAMPLE", "sees": {"emails", "public"}},
}


async def befriend(client, a: str, b: str, status: str = "accepted", by: str | None = None):
    """Write the pair's friendship row directly (``by`` holds the block)."""
    low, high = pair(a, b)
    now = now_ms()
    values = {
        "id": str(uuid.uuid4()),
        "user_low": low,
        "user_high": high,
        "requester_id": a,
        "addressee_id": b,
        "status": status,
        "blocked_by": by,
        "block_low": by == low,
        "block_high": by == high,
        "accepted_at": now if status == "accepted" else None,
        "created_at": now,
        "updated_at": now,
        "version": 1,
    }
    async with client.server.app[STATE].services.db.transaction() as tx:
        await tx.conn.execute(friendships.insert().values(**values))


class World:
    """The owner, every viewer (signed in), and the owner's timers and todos by level."""

    def __init__(self, client, issuer) -> None:
        self.client = client
        self.issuer = issuer
        self.devices: dict[str, Device] = {}
        self.tokens: dict[str, str] = {}
        self.timers: dict[str, dict[str, Any]] = {}
        self.todos: dict[str, dict[str, Any]] = {}
        self.group: dict[str, Any] = {}

    @property
    def owner(self) -> Device:
        return self.devices[OWNER]

    async def build(self) -> None:
        for name, spec in VIEWERS.items():
            token = self.issuer.mint(
                name, email=spec.get("email"), email_verified=spec.get("verified", True)
            )
            self.tokens[name] = token
            self.devices[name] = await Device.connect(self.client, token)
        for name, spec in VIEWERS.items():
            relation = spec.get("relation")
            if relation == "friend":
                await befriend(self.client, OWNER, name)
            elif relation == "blocked_by_owner":
                await befriend(self.client, OWNER, name, "blocked", by=OWNER)
            elif relation == "blocks_owner":
                await befriend(self.client, name, OWNER, "blocked", by=name)
        self.group = await self.owner.ok("tag_group.create", {"name": "Work"})
        for title, vis in LEVELS.items():
            timer = await self.owner.ok("timer.start", {"allocated_ms": 60_000, "title": title})
            todo = await self.owner.ok(
                "todo.create", {"title": title, "tag_group_id": self.group["id"]}
            )
            for kind, made in (("timer", timer), ("todo", todo)):
                await self.owner.ok(
                    "visibility.set", {"resource_type": kind, "resource_id": made["id"], **vis}
                )
            self.timers[title] = await self.owner.ok("timer.get", {"id": timer["id"]})
            self.todos[title] = await self.owner.ok("todo.get", {"id": todo["id"]})

    def of(self, kind: str) -> dict[str, dict[str, Any]]:
        return self.timers if kind == "timer" else self.todos

    async def close(self) -> None:
        for dev in self.devices.values():
            await dev.close()


@pytest.fixture
async def world(client, issuer):
    built = World(client, issuer)
    await built.build()
    yield built
    await built.close()


def titles(items: list[dict[str, Any]]) -> set[str]:
    return {item["title"] for item in items}


def assert_shared(item: dict[str, Any]) -> None:
    """A non-owner's view: the level alone, never an allow-list."""
    assert set(item["visibility"]) == {"level"}, item


async def test_the_owner_sees_every_level_with_its_allow_lists(world):
    for kind in ("timer", "todo"):
        selected = world.of(kind)["selected"]
        assert selected["visibility"] == {"level": "selected", "allowed_user_ids": ["fay"]}
        domain = world.of(kind)["domain"]
        assert domain["visibility"] == {
            "level": "allowed_emails",
            "allowed_domains": ["corp.example"],
        }


@pytest.mark.parametrize("kind", ["timer", "todo"])
@pytest.mark.parametrize("viewer", list(VIEWERS))
async def test_get_answers_exactly_what_the_viewer_may_see(world, kind, viewer):
    dev = world.devices[viewer]
    missing = await dev.error(f"{kind}.get", {"id": MISSING})
    assert missing["code"] == "not_found"
    for title, resource in world.of(kind).items():
        frame = await dev.call(f"{kind}.get", {"id": resource["id"]})
        if title in VIEWERS[viewer]["sees"]:
            assert frame["ok"] is True, (title, frame)
            got = frame["data"]
            if viewer == OWNER:
                assert got["visibility"] == resource["visibility"]
            else:
                assert_shared(got)
                assert got["visibility"] == {"level": resource["visibility"]["level"]}
                assert got["owner_id"] == OWNER
            expected = {k: v for k, v in resource.items() if k not in VOLATILE}
            assert {k: got[k] for k in expected} == expected
        else:
            assert frame["ok"] is False, (title, frame)
            # Denied is missing: the same error, only the id differs.
            denied = frame["error"]
            assert denied["code"] == missing["code"]
            assert denied["message"] == missing["message"].replace(MISSING, resource["id"])
            assert denied.get("details") == {"id": resource["id"]}


@pytest.mark.parametrize("kind", ["timer", "todo"])
@pytest.mark.parametrize("viewer", list(VIEWERS))
async def test_list_with_owner_id_holds_exactly_the_visible_ones(world, kind, viewer):
    page = await world.devices[viewer].ok(f"{kind}.list", {"owner_id": OWNER})
    assert titles(page["items"]) == VIEWERS[viewer]["sees"]
    assert page["next_cursor"] is None
    assert {item["owner_id"] for item in page["items"]} <= {OWNER}
    if viewer != OWNER:
        for item in page["items"]:
            assert_shared(item)


@pytest.mark.parametrize("viewer", list(VIEWERS))
async def test_active_timers_with_owner_id_hold_the_visible_ones(world, viewer):
    active = await world.devices[viewer].ok("timer.active", {"owner_id": OWNER})
    assert titles(active["items"]) == VIEWERS[viewer]["sees"]
    if viewer != OWNER:
        for item in active["items"]:
            assert_shared(item)


@pytest.mark.parametrize("kind", ["timer", "todo"])
async def test_own_lists_are_unchanged_with_or_without_owner_id(world, kind):
    plain = await world.owner.ok(f"{kind}.list")
    named = await world.owner.ok(f"{kind}.list", {"owner_id": OWNER})
    for page in (plain, named):
        assert titles(page["items"]) == set(LEVELS)
        by_title = {item["title"]: item["visibility"] for item in page["items"]}
        assert by_title["emails"] == LEVELS["emails"] | {
            "allowed_emails": [e.lower() for e in LEVELS["emails"]["allowed_emails"]]
        }
    # A viewer's own list stays theirs: the owner's timers never leak into it.
    assert (await world.devices["fred"].ok(f"{kind}.list"))["items"] == []


async def test_own_active_timers_are_unchanged(world):
    assert titles((await world.owner.ok("timer.active"))["items"]) == set(LEVELS)
    assert titles((await world.owner.ok("timer.active", {}))["items"]) == set(LEVELS)
    assert (await world.devices["fay"].ok("timer.active"))["items"] == []


@pytest.mark.parametrize("kind", ["timer", "todo"])
async def test_an_unknown_owner_is_an_empty_page(world, kind):
    page = await world.devices["fred"].ok(f"{kind}.list", {"owner_id": "nobody-at-all"})
    assert page["items"] == []
    assert page["next_cursor"] is None


@pytest.mark.parametrize("kind", ["timer", "todo"])
@pytest.mark.parametrize("owner_id", ["", "x" * 256, 7, None])
async def test_a_bad_owner_id_is_refused(world, kind, owner_id):
    frame = await world.devices["fred"].call(f"{kind}.list", {"owner_id": owner_id})
    if owner_id is None:  # null is the same as absent: the caller's own list
        assert frame["ok"] is True
        assert frame["data"]["items"] == []
    else:
        assert frame["ok"] is False
        assert frame["error"]["code"] == "validation_error"


@pytest.mark.parametrize("field", ["group_ids", "tag_ids"])
async def test_group_and_tag_filters_are_the_owners_alone(world, field):
    tag = await world.owner.ok("tag.create", {"group_id": world.group["id"], "name": "t"})
    ident = world.group["id"] if field == "group_ids" else tag["id"]
    for viewer in ("fred", "bob"):
        error = await world.devices[viewer].error("todo.list", {"owner_id": OWNER, field: [ident]})
        assert error["code"] == "validation_error"
    own = await world.owner.ok("todo.list", {"owner_id": OWNER, field: [ident]})
    assert len(own["items"]) == (len(LEVELS) if field == "group_ids" else 0)


@pytest.mark.parametrize("kind", ["timer", "todo"])
async def test_pages_of_another_owner_skip_what_the_viewer_may_not_see(world, kind):
    """A page may be short (even empty) while next_cursor is set; paging still finds all."""
    dev = world.devices["fred"]
    seen: list[str] = []
    short = False
    cursor = None
    for _ in range(20):
        data: dict[str, Any] = {"owner_id": OWNER, "limit": 1}
        if cursor:
            data["cursor"] = cursor
        page = await dev.ok(f"{kind}.list", data)
        seen += [item["title"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        short = short or not page["items"]
    assert cursor is None
    assert sorted(seen) == sorted(VIEWERS["fred"]["sees"])
    # The SQL pre-filter drops private rows; selected and allowed_emails are
    # scanned and dropped by the predicate, so some page came back empty.
    assert short


async def test_an_ancestor_the_viewer_may_not_see_does_not_appear(world):
    owner = world.owner
    parent = world.todos["private"]
    child = await owner.ok(
        "todo.create",
        {"title": "child", "tag_group_id": world.group["id"], "parent_id": parent["id"]},
    )
    await owner.ok(
        "visibility.set", {"resource_type": "todo", "resource_id": child["id"], "level": "public"}
    )
    page = await world.devices["sam"].ok("todo.list", {"owner_id": OWNER})
    assert titles(page["items"]) == {"public", "child"}
    assert {item["include_reason"] for item in page["items"]} == {"MATCH"}


async def test_a_lost_friendship_takes_sight_at_once(world):
    fred = world.devices["fred"]
    friends_only = world.timers["friends"]
    assert (await fred.ok("timer.get", {"id": friends_only["id"]}))["title"] == "friends"
    async with world.client.server.app[STATE].services.db.transaction() as tx:
        low, high = pair(OWNER, "fred")
        await tx.conn.execute(
            friendships.update()
            .where(friendships.c.user_low == low, friendships.c.user_high == high)
            .values(
                status="blocked",
                blocked_by="fred",
                block_low=low == "fred",
                block_high=high == "fred",
            )
        )
    error = await fred.error("timer.get", {"id": friends_only["id"]})
    assert error["code"] == "not_found"
    assert (await fred.ok("timer.list", {"owner_id": OWNER}))["items"] == []
    assert (await fred.ok("timer.active", {"owner_id": OWNER}))["items"] == []


async def test_rest_lists_take_owner_id(world):
    client = world.client
    for path in ("/v1/timers", "/v1/todos"):
        for viewer in ("fay", "bob", "carl", OWNER):
            response = await client.get(
                f"{path}?owner_id={OWNER}", headers=bearer(world.tokens[viewer])
            )
            assert response.status == 200, await response.text()
            body = await response.json()
            assert titles(body["items"]) == VIEWERS[viewer]["sees"], (path, viewer)
            if viewer != OWNER:
                for item in body["items"]:
                    assert_shared(item)
    refused = await client.get(
        f"/v1/todos?owner_id={OWNER}&group_ids={world.group['id']}",
        headers=bearer(world.tokens["fay"]),
    )
    assert refused.status == 422
    too_long = await client.get(
        f"/v1/timers?owner_id={'x' * 256}", headers=bearer(world.tokens["fay"])
    )
    assert too_long.status == 422
