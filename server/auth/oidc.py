"""Verify tokens from an external OpenID Connect provider, as a resource server."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Callable, Sequence
from typing import Any

import aiohttp
from joserfc.errors import JoseError
from joserfc.jwk import JWKRegistry, Key
from joserfc.jws import extract_compact

from server.auth.algorithms import ASYMMETRIC_ALGORITHMS, DEFAULT_ALGORITHMS
from server.auth.claims import (
    Identity,
    check_registered_claims,
    decode_signed,
    identity_from_claims,
)
from server.auth.errors import AuthError

HTTP_TIMEOUT_S = 5.0
MAX_DOCUMENT_BYTES = 512 * 1024
MIN_RSA_BITS = 2048
DISCOVERY_PATH = "/.well-known/openid-configuration"


class OidcVerifier:
    """Check provider-signed JWTs against the provider's published JWKS."""

    def __init__(
        self,
        issuer: str,
        audience: str,
        *,
        session: aiohttp.ClientSession,
        algorithms: Sequence[str] = DEFAULT_ALGORITHMS,
        jwks_ttl_s: float = 3600,
        min_refetch_interval_s: float = 30,
        leeway_s: int = 30,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not issuer or not audience:
            raise ValueError("issuer and audience must be non-empty")
        if jwks_ttl_s < 0 or min_refetch_interval_s < 0 or leeway_s < 0:
            raise ValueError("jwks_ttl_s, min_refetch_interval_s and leeway_s must be >= 0")
        self.issuer = issuer
        self.audience = audience
        self.algorithms = _checked_algorithms(algorithms)
        self._session = session
        self._jwks_ttl_s = jwks_ttl_s
        self._min_refetch_interval_s = min_refetch_interval_s
        self._leeway_s = leeway_s
        self._clock = clock
        self._lock = asyncio.Lock()
        self._jwks_uri: str | None = None
        self._keys: list[Key] | None = None
        self._fetched_at = 0.0
        self._attempted_at: float | None = None
        # Bumped on every successful fetch so waiters can tell someone else already fetched.
        self._generation = 0

    async def verify(self, token: str) -> Identity:
        """Return the Identity in ``token`` or raise AuthError."""
        kid, alg = self._read_header(token)
        key = await self._signing_key(kid, alg)
        claims = decode_signed(token, key, alg)
        check_registered_claims(
            claims,
            issuer=self.issuer,
            audience=self.audience,
            now=time.time(),
            leeway_s=self._leeway_s,
        )
        return identity_from_claims(claims, self.issuer)

    def key_generation(self) -> int:
        """Return which fetch of the JWKS is in use, or -1 once it is older than its TTL."""
        return -1 if self._keys is None or self._keys_expired() else self._generation

    def _read_header(self, token: str) -> tuple[str | None, str]:
        """Return the unverified header's kid and alg, refusing disallowed algorithms."""
        try:
            header = extract_compact(token.encode("ascii")).headers()
        except (JoseError, ValueError, TypeError) as error:
            raise AuthError("token is malformed") from error
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self.algorithms:
            raise AuthError("token algorithm is not allowed")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise AuthError("token key id is malformed")
        return kid, alg

    async def _signing_key(self, kid: str | None, alg: str) -> Key:
        """Return the published key for kid/alg, refetching once when it is unknown."""
        keys = await self._current_keys()
        seen = self._generation
        key = _select_key(keys, kid, alg)
        if key is None:
            key = _select_key(await self._refresh(seen, forced=True), kid, alg)
        if key is None:
            raise AuthError("no published signing key matches the token's key id and algorithm")
        return key

    async def _current_keys(self) -> list[Key]:
        """Return cached keys, fetching them when missing or older than the TTL."""
        if self._keys is not None and not self._keys_expired():
            return self._keys
        return await self._refresh(self._generation, forced=False)

    async def _refresh(self, seen: int, *, forced: bool) -> list[Key]:
        """Fetch the JWKS unless another task already did or the refetch budget is spent."""
        async with self._lock:
            if self._generation != seen or not self._may_fetch():
                return self._cached_keys()
            started = self._clock()
            try:
                keys = await self._fetch_keys()
            except AuthError:
                self._attempted_at = started
                # An outage should not log everyone out: keep serving the keys we had.
                if forced or self._keys is None:
                    raise
                return self._keys
            self._attempted_at = self._fetched_at = started
            self._keys = keys
            self._generation += 1
            return keys

    def _keys_expired(self) -> bool:
        """Tell whether the cached JWKS is older than its TTL."""
        return self._clock() - self._fetched_at >= self._jwks_ttl_s

    def _may_fetch(self) -> bool:
        """Tell whether enough time passed since the last fetch to fetch again."""
        if self._attempted_at is None:
            return True
        return self._clock() - self._attempted_at >= self._min_refetch_interval_s

    def _cached_keys(self) -> list[Key]:
        """Return the cached keys or fail because the last fetch failed."""
        if self._keys is None:
            raise AuthError("signing keys are unavailable: the last JWKS fetch failed")
        return self._keys

    async def _fetch_keys(self) -> list[Key]:
        """Download and parse the provider's JWKS."""
        document = await self._get_json(await self._jwks_location(), "JWKS")
        return _parse_jwks(document)

    async def _jwks_location(self) -> str:
        """Return jwks_uri from the discovery document, fetching it on first use."""
        if self._jwks_uri is None:
            url = self.issuer.rstrip("/") + DISCOVERY_PATH
            self._jwks_uri = _jwks_uri_from(await self._get_json(url, "discovery"), self.issuer)
        return self._jwks_uri

    async def _get_json(self, url: str, what: str) -> dict[str, Any]:
        """GET ``url`` and return its JSON object body, or raise AuthError."""
        timeout = aiohttp.ClientTimeout(total=HTTP_TIMEOUT_S)
        try:
            async with self._session.get(
                url, timeout=timeout, headers={"Accept": "application/json"}
            ) as response:
                if response.status != 200:
                    raise AuthError(f"{what} request failed with HTTP {response.status}")
                body = await _read_limited(response, what)
        except (aiohttp.ClientError, TimeoutError) as error:
            raise AuthError(f"{what} request failed ({type(error).__name__})") from error
        return _json_object(body, what)


def _checked_algorithms(algorithms: Sequence[str]) -> tuple[str, ...]:
    """Return the allowed algorithms, refusing symmetric, unsigned and unknown ones."""
    # A bare string is a Sequence[str] too, and would silently become its characters.
    if isinstance(algorithms, str):
        raise ValueError("algorithms must be a sequence of names, not a single string")
    chosen = tuple(algorithms)
    if not chosen:
        raise ValueError("at least one algorithm must be allowed")
    for alg in chosen:
        if alg.upper().startswith("HS") or alg.lower() == "none":
            raise ValueError(f"{alg} cannot verify third-party tokens; use an asymmetric algorithm")
        if alg not in ASYMMETRIC_ALGORITHMS:
            raise ValueError(f"unsupported algorithm {alg!r}")
    return chosen


async def _read_limited(response: aiohttp.ClientResponse, what: str) -> bytes:
    """Read the body, refusing anything larger than MAX_DOCUMENT_BYTES."""
    too_large = AuthError(f"{what} document is larger than {MAX_DOCUMENT_BYTES} bytes")
    if response.content_length is not None and response.content_length > MAX_DOCUMENT_BYTES:
        raise too_large
    body = bytearray()
    async for chunk in response.content.iter_chunked(64 * 1024):
        body += chunk
        if len(body) > MAX_DOCUMENT_BYTES:
            raise too_large
    return bytes(body)


def _json_object(body: bytes, what: str) -> dict[str, Any]:
    """Parse ``body`` as a JSON object or raise AuthError."""
    try:
        document = json.loads(body)
    except ValueError as error:
        raise AuthError(f"{what} response is not valid JSON") from error
    if not isinstance(document, dict):
        raise AuthError(f"{what} response is not a JSON object")
    return document


def _jwks_uri_from(discovery: dict[str, Any], issuer: str) -> str:
    """Return the discovery document's jwks_uri after checking it belongs to ``issuer``."""
    # OpenID Connect Discovery 1.0 section 4.3: the issuer must match exactly.
    if discovery.get("issuer") != issuer:
        raise AuthError("discovery document names a different issuer")
    jwks_uri = discovery.get("jwks_uri")
    if not isinstance(jwks_uri, str) or not jwks_uri.startswith(("https://", "http://")):
        raise AuthError("discovery document has no usable jwks_uri")
    return jwks_uri


def _parse_jwks(document: dict[str, Any]) -> list[Key]:
    """Return the signature keys in a JWKS document, skipping ones we cannot use."""
    entries = document.get("keys")
    if not isinstance(entries, list):
        raise AuthError("JWKS document has no keys list")
    return [key for entry in entries if (key := _import_signing_key(entry)) is not None]


def _import_signing_key(entry: object) -> Key | None:
    """Import one JWK when it is an asymmetric signature key, else return None."""
    if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
        return None
    kty = entry.get("kty")
    # "oct" is never accepted: a published symmetric key would let anyone forge tokens.
    if kty not in ("RSA", "EC", "OKP") or (kty == "RSA" and _rsa_too_weak(entry)):
        return None
    try:
        return JWKRegistry.import_key(entry, kty)
    except (JoseError, ValueError, TypeError):
        return None


def _rsa_too_weak(entry: dict[str, Any]) -> bool:
    """Tell whether an RSA JWK's modulus is missing or shorter than MIN_RSA_BITS."""
    modulus = entry.get("n")
    if not isinstance(modulus, str):
        return True
    try:
        raw = base64.urlsafe_b64decode(modulus + "=" * (-len(modulus) % 4))
    except ValueError:
        return True
    return int.from_bytes(raw, "big").bit_length() < MIN_RSA_BITS


def _select_key(keys: list[Key], kid: str | None, alg: str) -> Key | None:
    """Return the key for kid and alg; without a kid only an unambiguous key qualifies."""
    kty = ASYMMETRIC_ALGORITHMS[alg]
    candidates = [k for k in keys if k.key_type == kty and k.get("alg") in (None, alg)]
    if kid is None:
        return candidates[0] if len(candidates) == 1 else None
    return next((k for k in candidates if k.kid == kid), None)
