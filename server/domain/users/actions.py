"""User actions: the profile from token claims, and user.update."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from schema.errors import ErrorCode
from server.auth.claims import Identity
from server.domain.context import Actor, Services, mutate, retrying
from server.domain.holidays.calendars import stored_calendars
from server.domain.users.views import user_view
from server.errors import ApiError, not_found
from server.realtime.topics import user_topic
from server.storage.users import get_user, insert_user, update_user


def profile_from_identity(identity: Identity) -> dict[str, Any]:
    """Map token claims onto the profile columns; only a verified email is kept."""
    verified = identity.email_verified and bool(identity.email)
    picture = identity.picture if identity.picture and len(identity.picture) <= 2048 else None
    return {
        "id": identity.sub,
        "display_name": (identity.name or identity.sub)[:100],
        "avatar_url": picture,
        "email": identity.email.lower() if verified and identity.email else None,
        "email_verified": verified,
    }


def claim_changes(row: Mapping[Any, Any], profile: dict[str, Any]) -> dict[str, Any]:
    """Return the claim-owned fields a token changes; claims it lacks keep what is stored.

    ``display_name`` comes from the token only at creation: afterwards it belongs
    to the user (user.update), so a login never overwrites their choice.
    """
    changes: dict[str, Any] = {}
    if profile["avatar_url"] and profile["avatar_url"] != row["avatar_url"]:
        changes["avatar_url"] = profile["avatar_url"]
    if profile["email"] and profile["email"] != row["email"]:
        changes.update(email=profile["email"], email_verified=True)
    return changes


@retrying
async def do_sign_in(services: Services, identity: Identity) -> dict[str, Any]:
    """Create the user, or refresh what the token changes (telling their devices)."""
    profile = profile_from_identity(identity)
    row = await services.signing_in.get(identity.sub)
    if row is not None and not claim_changes(row, profile):
        return user_view(row, private=True)
    async with mutate(services, Actor(identity.sub)) as m:
        await insert_user(m.conn, profile, m.now)
        row = await get_user(m.conn, identity.sub)
        assert row is not None
        changes = claim_changes(row, profile)
        if changes:
            await update_user(m.conn, identity.sub, {**changes, "updated_at": m.now})
            row = await get_user(m.conn, identity.sub)
            assert row is not None
            m.emit(user_topic(identity.sub), "user.updated", user_view(row, private=True))
    return user_view(row, private=True)


@retrying
async def do_update_user(
    services: Services, actor: Actor, changes: dict[str, Any], if_version: int | None
) -> dict[str, Any]:
    """Change the caller's profile and tell their devices."""
    if "holiday_calendars" in changes:
        changes = {**changes, "holiday_calendars": stored_calendars(services.holidays, changes)}
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
            m.emit(user_topic(actor.user_id), "user.updated", view)
        return m.done(view)
