"""Pick the verifier for a token: the embedded issuer or the OIDC issuer."""

from __future__ import annotations

import base64
import binascii
import time
from collections import OrderedDict

import orjson

from server.auth.claims import Identity
from server.auth.embedded import EmbeddedIssuer
from server.auth.errors import AuthError
from server.auth.oidc import OidcVerifier

# Verified tokens remembered (their exact text): a reconnect storm brings back tokens
# verified minutes ago, and a signature check costs more than the rest of a connect.
VERIFIED_CACHE_SIZE = 10_000


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
    """Verify bearer tokens from the embedded issuer and, when configured, an OIDC issuer.

    A token verified once is answered from a bounded LRU until its ``exp`` (never
    its issuer's leeway) or until the issuer's signing keys change (an OIDC JWKS
    fetched again, or gone stale): nothing accepted here that a fresh check refuses.
    """

    def __init__(
        self,
        embedded: EmbeddedIssuer | None,
        oidc: OidcVerifier | None,
        cache_size: int = VERIFIED_CACHE_SIZE,
    ) -> None:
        self.embedded = embedded
        self.oidc = oidc
        self.cache_size = cache_size
        self._verified: OrderedDict[str, tuple[Identity, int]] = OrderedDict()

    async def verify(self, token: str) -> Identity:
        """Return the token's identity, or raise AuthError."""
        identity = self._recall(token)
        if identity is not None:
            return identity
        issuer = _unverified_issuer(token) or ""
        keys = self._keys_of(issuer)
        identity = await self._check(token, issuer)
        self._remember(token, identity, keys)
        return identity

    async def _check(self, token: str, issuer: str) -> Identity:
        if self.oidc is not None and issuer == self.oidc.issuer:
            return await self.oidc.verify(token)
        if self.embedded is not None and issuer == self.embedded.issuer:
            return self.embedded.verify(token)
        raise AuthError("token from an unknown issuer")

    def _keys_of(self, issuer: str) -> int:
        """Return the current key generation of ``issuer`` (embedded keys never change)."""
        if self.oidc is not None and issuer == self.oidc.issuer:
            return self.oidc.key_generation()
        return 0

    def _recall(self, token: str) -> Identity | None:
        entry = self._verified.get(token)
        if entry is None:
            return None
        identity, keys = entry
        if time.time() >= identity.expires_at or keys != self._keys_of(identity.issuer):
            del self._verified[token]
            return None
        self._verified.move_to_end(token)
        return identity

    def _remember(self, token: str, identity: Identity, keys: int) -> None:
        # Keys read before the check: a fetch during it makes the entry stale at once.
        if keys < 0 or keys != self._keys_of(identity.issuer):
            return
        self._verified[token] = (identity, keys)
        if len(self._verified) > self.cache_size:
            self._verified.popitem(last=False)
