"""User actions: the profile from token claims, and user.update."""

from __future__ import annotations

from typing import Any

from schema.errors import ErrorCode
from server.auth.claims import Identity
from server.clock import now_ms
from server.domain.context import Actor, Services, mutate
from server.domain.users.views import user_view
from server.errors import ApiError, not_found
from server.realtime.topics import user_topic
from server.storage.users import get_user, update_user, upsert_user


def profile_from_identity(identity: Identity) -> dict[str, Any]:
    """Map token claims onto the profile columns; only a verified email is kept."""
    verified = identity.email_verified and bool(identity.email)
    return {
        "id": identity.sub,
        "display_name": (identity.name or identity.sub)[:100],
        "avatar_url": identity.picture
        if identity.picture and len(identity.picture) <= 2048
        else None,
        "email": identity.email.lower() if verified and identity.email else None,
        "email_verified": verified,
    }


async def do_sign_in(services: Services, identity: Identity) -> dict[str, Any]:
    """Create or refresh the user's profile from the token; return the private view."""
    async with services.db.transaction() as tx:
        row = await upsert_user(tx.conn, profile_from_identity(identity), now_ms())
    return user_view(row, private=True)


async def do_update_user(
    services: Services, actor: Actor, changes: dict[str, Any], if_version: int | None
) -> dict[str, Any]:
    """Change the caller's profile and tell their devices."""
    async with mutate(services, actor) as m:
        row = await get_user(m.conn, actor.user_id)
        if row is None:
            raise not_found("user", actor.user_id)
        if if_version is not None and row["version"] != if_version:
            raise ApiError(
                ErrorCode.CONFLICT,
                "the user was changed meanwhile",
                {"version": row["version"]},
            )
        if changes:
            await update_user(m.conn, actor.user_id, {**changes, "updated_at": m.now})
            row = await get_user(m.conn, actor.user_id)
            assert row is not None
        view = user_view(row, private=True)
        if changes:
            await m.emit(user_topic(actor.user_id), "user.updated", view)
        return m.done(view)
