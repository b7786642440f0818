"""The predicate and the fan-out routing, without I/O: the whole matrix."""

from __future__ import annotations

import orjson
import pytest

from server.domain.visibility.fanout import (
    EventFrames,
    OwnerRelations,
    relation_change,
    route,
    visibility_change,
)
from server.domain.visibility.policy import (
    BLOCKED,
    FRIEND,
    LEVELS,
    SELF,
    STRANGER,
    Viewer,
    can_view,
)

BOB = Viewer.of("bob", "Bob@Example.com", True)
VIS = {
    "private": {"level": "private"},
    "friends": {"level": "friends"},
    "selected": {"level": "selected", "allowed_user_ids": ["bob"]},
    "selected_other": {"level": "selected", "allowed_user_ids": ["carol"]},
    "email": {"level": "allowed_emails", "allowed_emails": ["bob@example.com"]},
    "domain": {"level": "allowed_emails", "allowed_domains": ["example.com"]},
    "other_email": {"level": "allowed_emails", "allowed_emails": ["eve@example.com"]},
    "public": {"level": "public"},
}
# Which visibilities each relation sees (bob with a verified email, as BOB).
EXPECTED = {
    SELF: set(VIS),
    FRIEND: {"friends", "selected", "email", "domain", "public"},
    STRANGER: {"email", "domain", "public"},
    BLOCKED: set(),
}


@pytest.mark.parametrize("relation", sorted(EXPECTED))
@pytest.mark.parametrize("name", sorted(VIS))
def test_the_matrix(relation, name):
    assert can_view(BOB, relation, VIS[name]) is (name in EXPECTED[relation])


@pytest.mark.parametrize("name", ["email", "domain"])
def test_an_unverified_or_missing_email_counts_for_nothing(name):
    assert not can_view(Viewer.of("bob", "bob@example.com", False), FRIEND, VIS[name])
    assert not can_view(Viewer.of("bob", None, True), FRIEND, VIS[name])
    assert can_view(Viewer.of("bob", " BOB@EXAMPLE.COM ", True), STRANGER, VIS[name])


def test_a_resource_that_does_not_exist_is_seen_by_nobody():
    for relation in EXPECTED:
        assert not can_view(BOB, relation, None)


def test_every_level_is_in_the_matrix():
    assert {vis["level"] for vis in VIS.values()} == set(LEVELS)


def frames(name: str, data: dict, audience: dict | None) -> EventFrames:
    event = {"type": "event", "topic": "user:alice", "seq": 7, "name": name, "data": data}
    if audience is not None:
        event["audience"] = audience
    return EventFrames(orjson.dumps(event), event)


def relations(*friends: str, blocked: tuple[str, ...] = ()) -> OwnerRelations:
    peers = dict.fromkeys(friends, FRIEND) | dict.fromkeys(blocked, BLOCKED)
    return OwnerRelations("alice", peers)


def names(routed) -> list[str]:
    return [out.name for out in routed.frames]


def test_private_events_reach_the_owner_only_as_logged():
    f = frames("timer.paused", {"id": "t", "visibility": VIS["private"]}, None)
    assert names(route(BOB, relations("bob"), f)) == []
    owner = route(Viewer("alice"), relations("bob"), f)
    assert owner.frames[0].wire.endswith(f.frame)


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        ("private", "friends", ["timer.updated"]),
        ("friends", "friends", ["timer.updated"]),
        ("friends", "private", ["timer.removed"]),
        ("selected", "selected_other", ["timer.removed"]),
        ("selected_other", "selected", ["timer.updated"]),
        ("private", "selected_other", []),
    ],
)
def test_gaining_and_losing_sight(before, after, expected):
    data = {"id": "t", "visibility": VIS[after]}
    f = frames("timer.updated", data, visibility_change(VIS[before], VIS[after]))
    routed = route(BOB, relations("bob"), f)
    assert names(routed) == expected
    for out in routed.frames:
        sent = orjson.loads(out.wire[2:])
        assert "audience" not in sent
        assert sent["data"].get("visibility", {"level": "x"}).keys() == {"level"}


def test_a_deleted_resource_is_deleted_for_those_who_saw_it():
    f = frames("todo.deleted", {"id": "t"}, visibility_change(VIS["friends"], None))
    assert names(route(BOB, relations("bob"), f)) == ["todo.deleted"]
    assert names(route(Viewer("carol"), relations("bob"), f)) == []


def test_blocked_viewers_get_nothing_even_of_public_resources():
    f = frames(
        "timer.updated",
        {"id": "t", "visibility": VIS["public"]},
        visibility_change(VIS["public"], VIS["public"]),
    )
    assert names(route(BOB, relations(blocked=("bob",)), f)) == []


def test_a_friendship_event_ends_only_the_peers_subscription():
    audience = relation_change("bob", STRANGER, "friend_removed", [("timer", "t1"), ("todo", "d")])
    f = frames("friendship.deleted", {"id": "f"}, audience)
    routed = route(BOB, relations("bob", "carol"), f)
    assert names(routed) == ["timer.removed", "todo.removed", "subscription.ended"]
    assert routed.ends
    assert names(route(Viewer("carol"), relations("bob", "carol"), f)) == []


def test_relations_follow_the_topics_friendship_events():
    rel = relations("bob")
    rel.observe({"name": "friendship.updated", "audience": relation_change("bob", BLOCKED)})
    assert rel.relation("bob") == BLOCKED
    rel.observe({"name": "friendship.deleted", "audience": relation_change("bob", STRANGER)})
    assert rel.relation("bob") == STRANGER
    rel.observe({"name": "friendship.updated", "audience": relation_change("dan", FRIEND)})
    assert rel.relation("dan") == FRIEND
    assert rel.relation("alice") == SELF


def test_frames_are_built_once_per_audience():
    f = frames(
        "timer.updated",
        {"id": "t", "visibility": VIS["friends"]},
        visibility_change(VIS["friends"], VIS["friends"]),
    )
    rel = relations("bob", "carol")
    first = route(BOB, rel, f).frames[0]
    second = route(Viewer("carol"), rel, f).frames[0]
    assert first is second
