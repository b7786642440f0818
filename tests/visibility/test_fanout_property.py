"""Property: every frame a friend-topic subscriber gets is exactly what an oracle predicts.

Several users on two server instances (PostgreSQL + Redis; one instance on the
embedded default) befriend, unfriend, block, unblock, share, change, pause and
resume, delete and recreate their resources in a random order. Each user subscribes to every friend's topic as
soon as the friendship is accepted. An oracle, computed from the same history
with the pure predicate, says which frames each subscriber must receive on each
friend topic; the test compares the whole sequences: a leak and a miss both fail.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from server.domain.visibility.policy import BLOCKED, FRIEND, STRANGER, Viewer, can_view
from server.state import STATE
from server.storage.tables import topic_heads
from tests.conftest import REDIS_URL
from tests.wsclient import Device

USERS = 4
EXAMPLES = 100
KINDS = ("timer", "todo")
LEVELS = ("private", "friends", "selected", "allowed_emails", "public")
STATS = {"examples": 0, "operations": 0, "frames": 0, "streams": 0}
_runs = itertools.count(1)

users = st.integers(0, USERS - 1)
relation_op = st.tuples(st.sampled_from(["befriend", "unfriend", "block", "unblock"]), users, users)
share_op = st.tuples(
    st.just("share"), users, st.sampled_from(KINDS), st.sampled_from(LEVELS), st.sets(users)
)
touch_op = st.tuples(st.just("touch"), users, st.sampled_from(KINDS))
activity_op = st.tuples(st.just("activity"), users)
recreate_op = st.tuples(st.just("recreate"), users, st.sampled_from(KINDS))
# Resource changes outnumber relation changes, as they do in use.
operation = st.one_of(relation_op, share_op, share_op, share_op, touch_op, activity_op, recreate_op)
first_friends = st.sets(st.tuples(st.just("befriend"), users, users), max_size=8)


@dataclass
class Person:
    """One user: their device, resources, and their oracle state."""

    name: str
    email: str
    dev: Device
    ids: dict[str, str] = field(default_factory=dict)
    vis: dict[str, dict[str, Any]] = field(default_factory=dict)
    marker: str = ""
    group: str = ""
    paused: bool = False


class World:
    """The oracle: relations, visibilities, subscriptions and the frames each must get."""

    def __init__(self, people: list[Person], servers: list[Any]) -> None:
        self.people = people
        self.servers = servers
        self.pairs: dict[frozenset[str], dict[str, Any]] = {}
        self.subscribed: set[tuple[str, str]] = set()  # (viewer, owner)
        self.expected: dict[tuple[str, str], list[tuple[str, str]]] = {}

    def person(self, index: int) -> Person:
        return self.people[index]

    def relation(self, viewer: str, owner: str) -> str:
        row = self.pairs.get(frozenset((viewer, owner)))
        if row is None:
            return STRANGER
        return {"accepted": FRIEND, "blocked": BLOCKED}.get(row["status"], STRANGER)

    def sees(
        self, viewer: Person, owner: Person, vis: dict[str, Any] | None, relation: str | None = None
    ) -> bool:
        who = Viewer.of(viewer.name, viewer.email, True)
        return can_view(who, relation or self.relation(viewer.name, owner.name), vis)

    def expect(self, viewer: str, owner: str, frame: tuple[str, str]) -> None:
        self.expected.setdefault((viewer, owner), []).append(frame)

    async def apply(self, op: tuple[Any, ...]) -> bool:
        """Run one operation if it is valid in the model; return whether it ran."""
        kind = op[0]
        if kind in ("befriend", "unfriend", "block", "unblock"):
            a, b = self.person(op[1]), self.person(op[2])
            if a is b:
                return False
            return await getattr(self, kind)(a, b)
        if kind == "share":
            return await self.share(self.person(op[1]), op[2], op[3], op[4])
        if kind == "activity":
            return await self.activity(self.person(op[1]))
        if kind == "recreate":
            return await self.recreate(self.person(op[1]), op[2])
        return await self.touch(self.person(op[1]), op[2])

    async def befriend(self, a: Person, b: Person) -> bool:
        key = frozenset((a.name, b.name))
        if key in self.pairs:
            return False
        code = (await b.dev.ok("user.me"))["friend_code"]
        asked = await a.dev.ok("friend.request", {"friend_code": code})
        accepted = await b.dev.ok("friend.accept", {"id": asked["friendship"]["id"]})
        self.pairs[key] = {"status": "accepted", "id": accepted["id"], "blocks": set()}
        for viewer, owner in ((a, b), (b, a)):
            await self.subscribe(viewer, owner)
        return True

    async def unfriend(self, a: Person, b: Person) -> bool:
        row = self.pairs.get(frozenset((a.name, b.name)))
        if row is None or row["status"] != "accepted":
            return False
        await a.dev.ok("friend.remove", {"id": row["id"]})
        self.end(a, b, STRANGER, "friend_removed")
        del self.pairs[frozenset((a.name, b.name))]
        return True

    async def block(self, a: Person, b: Person) -> bool:
        key = frozenset((a.name, b.name))
        row = self.pairs.get(key)
        if row is not None and a.name in row["blocks"]:
            return False
        await a.dev.ok("friend.block", {"user_id": b.name})
        if row is not None and row["status"] == "accepted":
            self.end(a, b, BLOCKED, "blocked")
        blocks = (row or {}).get("blocks", set()) | {a.name}
        self.pairs[key] = {"status": "blocked", "id": (row or {}).get("id"), "blocks": blocks}
        return True

    async def unblock(self, a: Person, b: Person) -> bool:
        key = frozenset((a.name, b.name))
        row = self.pairs.get(key)
        if row is None or a.name not in row["blocks"]:
            return False
        await a.dev.ok("friend.unblock", {"user_id": b.name})
        row["blocks"].discard(a.name)
        if not row["blocks"]:
            del self.pairs[key]
        return True

    def end(self, a: Person, b: Person, after: str, reason: str) -> None:
        """The friendship of a and b ends: removed frames, the end, then the allow-lists."""
        for owner, viewer in ((a, b), (b, a)):
            if (viewer.name, owner.name) in self.subscribed:
                for kind in KINDS:
                    vis = owner.vis[kind]
                    if self.sees(viewer, owner, vis, FRIEND) and not self.sees(
                        viewer, owner, vis, after
                    ):
                        self.expect(viewer.name, owner.name, (f"{kind}.removed", owner.ids[kind]))
                self.expect(viewer.name, owner.name, ("subscription.ended", ""))
                self.subscribed.discard((viewer.name, owner.name))
        for owner, peer in ((a, b), (b, a)):
            for kind in KINDS:
                users = owner.vis[kind].get("allowed_user_ids")
                if users and peer.name in users:
                    kept = [u for u in users if u != peer.name]
                    new = (
                        {"level": "selected", "allowed_user_ids": kept}
                        if kept
                        else {"level": "private"}
                    )
                    self.change(owner, kind, new)

    async def share(self, owner: Person, kind: str, level: str, picks: set[int]) -> bool:
        data: dict[str, Any] = {
            "resource_type": kind,
            "resource_id": owner.ids[kind],
            "level": level,
        }
        vis: dict[str, Any] = {"level": level}
        if level == "selected":
            friends = sorted(
                self.person(i).name
                for i in picks
                if self.relation(self.person(i).name, owner.name) == FRIEND
            )
            if not friends:
                return False
            data["allowed_user_ids"] = vis["allowed_user_ids"] = friends
        if level == "allowed_emails":
            emails = sorted(self.person(i).email for i in picks if self.person(i) is not owner)
            if not emails:
                return False
            data["allowed_emails"] = vis["allowed_emails"] = emails
        await owner.dev.ok("visibility.set", data)
        self.change(owner, kind, vis)
        return True

    async def touch(self, owner: Person, kind: str) -> bool:
        await owner.dev.ok(f"{kind}.update", {"id": owner.ids[kind], "title": f"t{next(_runs)}"})
        self.change(owner, kind, owner.vis[kind])
        return True

    async def activity(self, owner: Person) -> bool:
        """Pause the running timer, or resume the paused one (timer activity)."""
        verb = "resume" if owner.paused else "pause"
        await owner.dev.ok(f"timer.{verb}", {"id": owner.ids["timer"]})
        owner.paused = not owner.paused
        self.change(owner, "timer", owner.vis["timer"], f"timer.{verb}d")
        return True

    async def recreate(self, owner: Person, kind: str) -> bool:
        """Delete the resource (those who saw it see it go), then make a new private one."""
        await owner.dev.ok(f"{kind}.delete", {"id": owner.ids[kind]})
        for viewer in self.people:
            if (viewer.name, owner.name) in self.subscribed and self.sees(
                viewer, owner, owner.vis[kind]
            ):
                self.expect(viewer.name, owner.name, (f"{kind}.deleted", owner.ids[kind]))
        owner.ids[kind] = (await make_resource(owner, kind))["id"]
        owner.vis[kind] = {"level": "private"}
        owner.paused = False if kind == "timer" else owner.paused
        return True

    def change(
        self, owner: Person, kind: str, new: dict[str, Any], name: str | None = None
    ) -> None:
        """An update of one resource: full frame to who sees it now, removed to who lost it."""
        before = owner.vis[kind]
        owner.vis[kind] = new
        for viewer in self.people:
            if (viewer.name, owner.name) not in self.subscribed:
                continue
            if self.sees(viewer, owner, new):
                self.expect(viewer.name, owner.name, (name or f"{kind}.updated", owner.ids[kind]))
            elif self.sees(viewer, owner, before):
                self.expect(viewer.name, owner.name, (f"{kind}.removed", owner.ids[kind]))

    async def subscribe(self, viewer: Person, owner: Person) -> None:
        """Subscribe from the topic's head as the database has it: no earlier event arrives."""
        topic = f"user:{owner.name}"
        db = self.servers[0].app[STATE].services.db
        async with db.read() as conn:
            head = (
                await conn.execute(select(topic_heads.c.seq).where(topic_heads.c.topic == topic))
            ).scalar_one()
        await viewer.dev.ok("subscribe", {"topic": topic, "since": head})
        self.subscribed.add((viewer.name, owner.name))

    async def settle(self) -> None:
        """Rename every marker; wait until each subscriber has its owners' marks."""
        for owner in self.people:
            await owner.dev.ok("timer.update", {"id": owner.marker, "title": "final"})
        for viewer, owner_name in sorted(self.subscribed):
            dev = next(p for p in self.people if p.name == viewer).dev
            owner = next(p for p in self.people if p.name == owner_name)
            while not any(
                e["topic"] == f"user:{owner_name}"
                and e["data"].get("id") == owner.marker
                and e["data"].get("title") == "final"
                for e in dev.events
            ):
                await dev.pump()

    def received(self, viewer: Person, owner: Person) -> list[tuple[str, str]]:
        got = []
        for event in viewer.dev.events:
            if event["topic"] != f"user:{owner.name}":
                continue
            assert "audience" not in event
            data = event["data"]
            if "visibility" in data:
                assert set(data["visibility"]) == {"level"}, event
            if data.get("id") == owner.marker:
                continue
            got.append(
                (event["name"], data.get("id", "") if event["name"] != "subscription.ended" else "")
            )
        return got


async def make_resource(person: Person, kind: str) -> dict[str, Any]:
    """Create a private timer (running) or todo for ``person``."""
    if kind == "timer":
        return dict(await person.dev.ok("timer.start", {"allocated_ms": 3_600_000}))
    return dict(await person.dev.ok("todo.create", {"title": "t", "tag_group_id": person.group}))


async def make_world(servers: list[Any], token: Any, run: int) -> World:
    people = []
    for i in range(USERS):
        name = f"p{run}u{i}"
        email = f"{name}@example.com"
        dev = await Device.connect(servers[i % len(servers)], token(name, email=email))
        person = Person(name, email, dev)
        person.group = (await dev.ok("tag_group.create", {"name": "g"}))["id"]
        timer = await make_resource(person, "timer")
        todo = await make_resource(person, "todo")
        marker = await dev.ok("timer.start", {"allocated_ms": 3_600_000, "title": "marker"})
        await dev.ok(
            "visibility.set",
            {"resource_type": "timer", "resource_id": marker["id"], "level": "public"},
        )
        person.ids = {"timer": timer["id"], "todo": todo["id"]}
        person.vis = {"timer": {"level": "private"}, "todo": {"level": "private"}}
        person.marker = marker["id"]
        people.append(person)
    return World(people, servers)


async def run_example(servers: list[Any], token: Any, ops: list[tuple[Any, ...]]) -> None:
    world = await make_world(servers, token, next(_runs))
    try:
        for op in ops:
            STATS["operations"] += await world.apply(op)
        await asyncio.wait_for(world.settle(), 20)
        for viewer in world.people:
            for owner in world.people:
                if viewer is owner:
                    continue
                got = world.received(viewer, owner)
                want = world.expected.get((viewer.name, owner.name), [])
                assert got == want, (viewer.name, owner.name, ops)
                STATS["frames"] += len(got)
                STATS["streams"] += 1
        STATS["examples"] += 1
    finally:
        for person in world.people:
            await person.dev.close()


async def test_every_subscriber_gets_exactly_what_the_oracle_allows(start_server, token):
    servers = [await start_server(), await start_server()] if REDIS_URL else [await start_server()]
    loop = asyncio.get_running_loop()

    @settings(
        max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None
    )
    @given(first_friends, st.lists(operation, min_size=20, max_size=80))
    def check(friends: set[tuple[Any, ...]], ops: list[tuple[Any, ...]]) -> None:
        history = [*sorted(friends), *ops]
        asyncio.run_coroutine_threadsafe(run_example(servers, token, history), loop).result(120)

    await loop.run_in_executor(None, check)
    print(f"\nfan-out property: {STATS} over {len(servers)} instance(s)")
    assert STATS["examples"] >= EXAMPLES
