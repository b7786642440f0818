"""The signature algorithms OIDC tokens may use (light: settings import it without aiohttp)."""

from __future__ import annotations

#: Every algorithm the OIDC verifier can be configured for, mapped to the JWK "kty" it needs.
ASYMMETRIC_ALGORITHMS: dict[str, str] = {
    "RS256": "RSA",
    "RS384": "RSA",
    "RS512": "RSA",
    "PS256": "RSA",
    "PS384": "RSA",
    "PS512": "RSA",
    "ES256": "EC",
    "ES384": "EC",
    "ES512": "EC",
    "EdDSA": "OKP",
    "Ed25519": "OKP",
    "Ed448": "OKP",
}
DEFAULT_ALGORITHMS: tuple[str, ...] = ("RS256", "ES256", "EdDSA", "PS256")
