"""How a viewer stands to an owner, read from the database (for reads and subscribes)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from server.domain.visibility.policy import (
    REACHABLE,
    SELF,
    Viewer,
    Vis,
    can_view,
    relation_of_status,
)
from server.storage.friendships import get_pair
from server.storage.users import get_user


@dataclass(frozen=True)
class Access:
    """A viewer, the owner they look at, and their relation."""

    viewer: Viewer
    owner_id: str
    relation: str

    @property
    def own(self) -> bool:
        """Tell whether the viewer is the owner."""
        return self.relation == SELF

    @property
    def levels(self) -> tuple[str, ...]:
        """The levels this viewer might see (the SQL pre-filter)."""
        return REACHABLE[self.relation]

    def sees(self, vis: Vis | None) -> bool:
        """Apply the predicate to one resource's visibility."""
        return can_view(self.viewer, self.relation, vis)


async def relation_between(conn: AsyncConnection, viewer_id: str, owner_id: str) -> str:
    """Return how ``viewer_id`` stands to ``owner_id``."""
    if viewer_id == owner_id:
        return SELF
    row = await get_pair(conn, viewer_id, owner_id)
    return relation_of_status(None if row is None else row["status"])


async def viewer_of(conn: AsyncConnection, user_id: str) -> Viewer:
    """Return the viewer ``user_id`` is, with their email only when verified."""
    row = await get_user(conn, user_id)
    if row is None:
        return Viewer(user_id)
    return Viewer.of(user_id, row["email"], row["email_verified"])


async def access_to(conn: AsyncConnection, viewer_id: str, owner_id: str) -> Access:
    """Return what ``viewer_id`` may see of ``owner_id``'s resources."""
    if viewer_id == owner_id:
        return Access(Viewer(viewer_id), owner_id, SELF)
    relation = await relation_between(conn, viewer_id, owner_id)
    return Access(await viewer_of(conn, viewer_id), owner_id, relation)
