"""The one visibility predicate (pure): every read path and the fan-out use ``can_view``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

PRIVATE = "private"
FRIENDS = "friends"
SELECTED = "selected"
ALLOWED_EMAILS = "allowed_emails"
PUBLIC = "public"
LEVELS = (PRIVATE, FRIENDS, SELECTED, ALLOWED_EMAILS, PUBLIC)

# The relation of a viewer to a resource's owner.
SELF = "self"
FRIEND = "friend"
STRANGER = "stranger"
BLOCKED = "blocked"

# The levels a viewer in each relation might see (the SQL pre-filter of reads).
REACHABLE: dict[str, tuple[str, ...]] = {
    SELF: LEVELS,
    FRIEND: (FRIENDS, SELECTED, ALLOWED_EMAILS, PUBLIC),
    STRANGER: (ALLOWED_EMAILS, PUBLIC),
    BLOCKED: (),
}

Vis = Mapping[str, Any]


@dataclass(frozen=True)
class Viewer:
    """Who is looking: a user id and, only when the token verified it, their email."""

    user_id: str
    email: str | None = None

    @classmethod
    def of(cls, user_id: str, email: str | None, verified: bool | None) -> Viewer:
        """Build a viewer from a profile; an unverified email counts for nothing."""
        return cls(user_id, email.strip().lower() if email and verified else None)


def relation_of_status(status: str | None) -> str:
    """Return the relation of two users whose friendship row has ``status`` (None: no row)."""
    if status == "blocked":
        return BLOCKED
    return FRIEND if status == "accepted" else STRANGER


def can_view(viewer: Viewer, relation: str, vis: Vis | None) -> bool:
    """Tell whether ``viewer``, in ``relation`` to the owner, may see a resource with ``vis``.

    ``vis`` is the resource's visibility view (``level`` and its allow-list); None
    means the resource does not exist (as before a create or after a delete).
    """
    if vis is None or relation == BLOCKED:
        return False
    if relation == SELF:
        return True
    level = vis["level"]
    if level == PUBLIC:
        return True
    if level == FRIENDS:
        return relation == FRIEND
    if level == SELECTED:
        return relation == FRIEND and viewer.user_id in vis.get("allowed_user_ids", ())
    if level == ALLOWED_EMAILS:
        return _email_allowed(viewer.email, vis)
    return False


def _email_allowed(email: str | None, vis: Vis) -> bool:
    if email is None:
        return False
    domain = email.rpartition("@")[2]
    return email in vis.get("allowed_emails", ()) or domain in vis.get("allowed_domains", ())


def visibility_view(row: Mapping[Any, Any]) -> dict[str, Any]:
    """Return a resource row's visibility as its owner sees it: the level and its allow-list."""
    rules = row.get("visibility_rules")
    level = row.get("visibility") or PRIVATE
    return {"level": level, **orjson.loads(rules)} if rules else {"level": level}


def shared_view(vis: Vis) -> dict[str, Any]:
    """Return what a non-owner sees of a visibility: the level, never the allow-lists."""
    return {"level": vis["level"]}


def is_private(vis: Vis | None) -> bool:
    """Tell whether nobody but the owner sees a resource with ``vis`` (or no resource)."""
    return vis is None or vis["level"] == PRIVATE
