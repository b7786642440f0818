"""Fan-out of a user topic's events to the connections allowed to see them.

Every event is logged with its frame. An event about a shareable resource whose
visibility is (or was) more than private carries an ``audience`` key, kept in the
log and never sent: ``{"before": vis, "after": vis}``, the resource's visibility
just before and just after the change (None where it did not exist). A
``friendship.*`` event carries ``{"peer", "relation", "ends", "lost"}``: the other
party, the pair's relation afterwards, why a subscription of the peer ends (or
None), and the resources of the topic's owner the peer stopped seeing.

Deciding needs no query: the resource's visibility travels with the event, and
the owner's relations are held per topic (``OwnerRelations``) and kept current
by the topic's own ``friendship.*`` events. Each frame is serialised once per
audience (owner, viewers, those who lose sight) and shared by every socket.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from server.domain.visibility.policy import (
    BLOCKED,
    FRIEND,
    SELF,
    STRANGER,
    Viewer,
    Vis,
    can_view,
    is_private,
    relation_of_status,
    shared_view,
    visibility_view,
)
from server.realtime.topics import topic_owner
from server.realtime.wire import text_frame
from server.storage.friendships import peer_of
from server.storage.rows import rows_one_of
from server.storage.tables import friendships

SUBSCRIPTION_ENDED = "subscription.ended"


def audience_of(data: Any) -> dict[str, Any] | None:
    """Return the audience of an event whose data is a resource as it now is."""
    vis = data.get("visibility") if isinstance(data, dict) else None
    return visibility_change(vis, vis)


def visibility_change(before: Vis | None, after: Vis | None) -> dict[str, Any] | None:
    """Return the audience of a change from ``before`` to ``after`` (None: owner only)."""
    if is_private(before) and is_private(after):
        return None
    return {"before": before, "after": after}


def deletion(row: Any) -> dict[str, Any] | None:
    """Return the audience of a resource row's deletion: whoever saw it sees it go."""
    return visibility_change(visibility_view(row), None)


def relation_change(
    peer: str, relation: str, ends: str | None = None, lost: Sequence[tuple[str, str]] = ()
) -> dict[str, Any]:
    """Return the audience of a ``friendship.*`` event on one party's topic."""
    return {"peer": peer, "relation": relation, "ends": ends, "lost": [list(k) for k in lost]}


@dataclass
class OwnerRelations:
    """One instance's view of a topic owner's friends and blocks."""

    owner: str
    # Each peer with a relation: FRIEND or BLOCKED (one dict: most owners have no peers
    # at all, and every topic of the instance holds one of these).
    peers: dict[str, str] = field(default_factory=dict)

    def observe(self, event: dict[str, Any]) -> None:
        """Follow a relation change carried by one of the topic's events."""
        audience = event.get("audience")
        if audience is not None and "peer" in audience:
            self.observe_pair(audience["peer"], audience["relation"])

    def relation(self, viewer: str) -> str:
        """Return how ``viewer`` stands to the owner."""
        if viewer == self.owner:
            return SELF
        return self.peers.get(viewer, STRANGER)

    def observe_pair(self, peer: str, relation: str | None) -> None:
        """Take how ``peer`` stands to the owner (None: no relation)."""
        if relation in (FRIEND, BLOCKED):
            self.peers[peer] = relation
        else:
            self.peers.pop(peer, None)


_PAIRS = select(friendships.c.user_low, friendships.c.user_high, friendships.c.status)


async def load_relations(topics: list[str], conn: AsyncConnection) -> dict[str, OwnerRelations]:
    """Read the relations (accepted and blocked pairs) the fan-out of user topics needs."""
    owners = {owner: topic for topic in topics if (owner := topic_owner(topic)) is not None}
    if not owners:
        return {}
    loaded = {owner: OwnerRelations(owner) for owner in owners}
    pairs = await rows_one_of(
        conn, _PAIRS, friendships.c.user_low, owners, also=(friendships.c.user_high,)
    )
    for row in pairs:
        for me in (row["user_low"], row["user_high"]):
            if me in loaded:
                loaded[me].observe_pair(peer_of(row, me), relation_of_status(row["status"]))
    return {owners[owner]: relations for owner, relations in loaded.items()}


@dataclass(frozen=True)
class Out:
    """One frame for one socket: the framed bytes, and the event's name and data."""

    wire: bytes
    name: str
    data: Any


@dataclass(frozen=True)
class Routed:
    """What one subscriber gets of one event, and whether its subscription ends
    (shared: every socket of the owner gets the same one)."""

    frames: tuple[Out, ...]
    ends: bool = False


NOTHING = Routed(())


class EventFrames:
    """One event's frames per audience, each built once and shared by every socket."""

    def __init__(self, frame: bytes, event: dict[str, Any]) -> None:
        self.frame = frame
        self.event = event
        self._built: dict[Any, Out] = {}
        self._to_owner: Routed | None = None

    def owner(self) -> Out:
        """The frame as its owner gets it (the log's frame, minus the audience)."""
        event = self.event
        return self._once("owner", lambda: self._build(event["name"], event["data"], owner=True))

    def to_owner(self) -> Routed:
        """What each of the owner's sockets gets, built once for all of them."""
        if self._to_owner is None:
            self._to_owner = Routed((self.owner(),))
        return self._to_owner

    def viewer(self) -> Out:
        """The frame as someone else who may see the resource gets it (no allow-lists)."""
        return self._once("viewer", self._viewer)

    def removed(self, kind: str, ident: str) -> Out:
        """A ``<kind>.removed`` frame for a resource that left a viewer's sight."""
        return self._once(
            ("removed", kind, ident), lambda: self._build(f"{kind}.removed", {"id": ident})
        )

    def ended(self, reason: str) -> Out:
        """The frame that ends a subscription to this topic, saying why."""
        data = {"topic": self.event["topic"], "reason": reason}
        return self._once(("ended", reason), lambda: self._build(SUBSCRIPTION_ENDED, data))

    def _viewer(self) -> Out:
        data = self.event["data"]
        if isinstance(data, dict) and "visibility" in data:
            data = {**data, "visibility": shared_view(data["visibility"])}
            # A poll's link is its owner's to share.
            if "share_token" in data:
                data["share_token"] = None
        return self._build(self.event["name"], data)

    def _once(self, key: Any, build: Any) -> Out:
        out = self._built.get(key)
        if out is None:
            out = self._built[key] = build()
        return out

    def _build(self, name: str, data: Any, *, owner: bool = False) -> Out:
        event = self.event
        if owner and "audience" not in event:
            return Out(text_frame(self.frame), name, data)  # the logged frame, as is
        # Another user's frames carry no batch: filtering leaves holes in it.
        dropped = ("audience",) if owner else ("audience", "batch")
        body = {k: v for k, v in event.items() if k not in dropped}
        body["name"], body["data"] = name, data
        if name != event["name"]:
            body["op_id"] = None
        return Out(text_frame(orjson.dumps(body)), name, data)


def route(viewer: Viewer, relations: Any, frames: EventFrames) -> Routed:
    """Decide what ``viewer`` gets of one event of a topic.

    ``relations`` is the topic's context: an ``OwnerRelations`` for a user topic,
    None for topics whose subscribers all see everything.
    """
    if not isinstance(relations, OwnerRelations) or viewer.user_id == relations.owner:
        return frames.to_owner()
    event = frames.event
    audience = event.get("audience")
    if audience is None:
        return NOTHING
    if "peer" in audience:
        return _relation_ended(viewer, audience, frames)
    relation = relations.relation(viewer.user_id)
    now = can_view(viewer, relation, audience["after"])
    if now:
        return Routed((frames.viewer(),))
    if not can_view(viewer, relation, audience["before"]):
        return NOTHING
    name: str = event["name"]
    kind, _, what = name.partition(".")
    if what == "deleted":
        return Routed((frames.viewer(),))
    return Routed((frames.removed(kind, event["data"]["id"]),))


def _relation_ended(viewer: Viewer, audience: dict[str, Any], frames: EventFrames) -> Routed:
    if audience["peer"] != viewer.user_id or audience["ends"] is None:
        return NOTHING
    gone = [frames.removed(kind, ident) for kind, ident in audience["lost"]]
    return Routed((*gone, frames.ended(audience["ends"])), ends=True)
