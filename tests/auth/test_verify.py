"""The token router and its cache of verified tokens."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
from joserfc.jwk import RSAKey

from server.auth.embedded import EmbeddedIssuer
from server.auth.errors import AuthError
from server.auth.oidc import OidcVerifier
from server.auth.verify import TokenVerifier
from tests.auth.test_oidc import (  # noqa: F401 (fixtures used by name)
    FakeClock,
    FakeProvider,
    claims_for,
    clock,
    ec_key,
    ed_key,
    make_verifier,
    provider,
    rotated_key,
    rsa_key,
    session,
    sign,
)

SECRET = b"0123456789abcdef0123456789abcdef-verify"


@pytest.fixture
def embedded() -> EmbeddedIssuer:
    """Return an embedded issuer with a fixed secret."""
    return EmbeddedIssuer(SECRET)


def tampered(token: str) -> str:
    """Return the token with its signature's first character changed."""
    head, _, signature = token.rpartition(".")
    return f"{head}.{'B' if signature[0] == 'A' else 'A'}{signature[1:]}"


async def test_a_remembered_token_still_expires_at_its_exp(embedded: EmbeddedIssuer) -> None:
    verifier = TokenVerifier(embedded, None)
    token = embedded.mint("user-1", ttl_s=1, now=time.time())
    assert (await verifier.verify(token)).sub == "user-1"
    assert (await verifier.verify(token)).sub == "user-1"

    await asyncio.sleep(max(0.0, (await verifier.verify(token)).expires_at - time.time()) + 0.05)

    with pytest.raises(AuthError, match="expired"):
        await verifier.verify(token)


async def test_a_token_one_byte_off_a_remembered_one_is_checked_and_refused(
    embedded: EmbeddedIssuer,
) -> None:
    verifier = TokenVerifier(embedded, None)
    token = embedded.mint("user-1")
    await verifier.verify(token)

    with pytest.raises(AuthError, match="signature"):
        await verifier.verify(tampered(token))


async def test_the_cache_keeps_the_most_recently_used_tokens(embedded: EmbeddedIssuer) -> None:
    verifier = TokenVerifier(embedded, None, cache_size=2)
    first, second, third = (embedded.mint(f"user-{i}") for i in range(3))
    for token in (first, second, first, third):
        await verifier.verify(token)

    assert list(verifier._verified) == [first, third]


async def test_refused_tokens_are_not_remembered(embedded: EmbeddedIssuer) -> None:
    verifier = TokenVerifier(embedded, None)
    for token in (tampered(embedded.mint("user-1")), "not-a-token"):
        with pytest.raises(AuthError):
            await verifier.verify(token)

    assert not verifier._verified


async def test_a_remembered_oidc_token_is_checked_again_once_the_jwks_is_stale(
    provider: FakeProvider,  # noqa: F811
    make_verifier: Callable[..., OidcVerifier],  # noqa: F811
    clock: FakeClock,  # noqa: F811
    rsa_key: RSAKey,  # noqa: F811
    rotated_key: RSAKey,  # noqa: F811
) -> None:
    verifier = TokenVerifier(None, make_verifier(jwks_ttl_s=600))
    token = sign(rsa_key, claims_for(provider))
    await verifier.verify(token)
    await verifier.verify(token)
    assert token in verifier._verified

    provider.published = [rotated_key]  # the provider withdrew the token's key
    clock.advance(600)

    with pytest.raises(AuthError, match="no published signing key"):
        await verifier.verify(token)
    assert token not in verifier._verified
