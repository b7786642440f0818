"""Bearer authentication for REST."""

from __future__ import annotations

from aiohttp import web

from schema.errors import ErrorCode
from server.auth.claims import Identity
from server.auth.errors import AuthError
from server.errors import ApiError
from server.state import STATE


async def require_user(request: web.Request) -> str:
    """Return the user id of the request's bearer token, or raise unauthorized."""
    return (await require_identity(request)).sub


async def require_identity(request: web.Request) -> Identity:
    """Return the verified identity of the request's bearer token, or raise unauthorized."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(ErrorCode.UNAUTHORIZED, "send Authorization: Bearer <token>")
    try:
        return await request.app[STATE].verifier.verify(token.strip())
    except AuthError as exc:
        raise ApiError(ErrorCode.UNAUTHORIZED, str(exc)) from None
