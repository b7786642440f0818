"""Pick the verifier for a token: the embedded issuer or the OIDC issuer."""

from __future__ import annotations

import base64
import binascii

import orjson

from server.auth.claims import Identity
from server.auth.embedded import EmbeddedIssuer
from server.auth.errors import AuthError
from server.auth.oidc import OidcVerifier


def _unverified_issuer(token: str) -> str | None:
    """Read ``iss`` without trusting it, only to route the token to its verifier."""
    try:
        payload = token.split(".")[1]
        claims = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, binascii.Error, ValueError, orjson.JSONDecodeError):
        return None
    iss = claims.get("iss") if isinstance(claims, dict) else None
    return iss if isinstance(iss, str) else None


class TokenVerifier:
    """Verify bearer tokens from the embedded issuer and, when configured, an OIDC issuer."""

    def __init__(self, embedded: EmbeddedIssuer | None, oidc: OidcVerifier | None) -> None:
        self.embedded = embedded
        self.oidc = oidc

    async def verify(self, token: str) -> Identity:
        """Return the token's identity, or raise AuthError."""
        issuer = _unverified_issuer(token)
        if self.oidc is not None and issuer == self.oidc.issuer:
            return await self.oidc.verify(token)
        if self.embedded is not None and issuer == self.embedded.issuer:
            return self.embedded.verify(token)
        raise AuthError("token from an unknown issuer")
