"""Tests for the OIDC verifier against a real local discovery and JWKS server."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import warnings
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc import jwt
from joserfc.errors import SecurityWarning
from joserfc.jwk import ECKey, Key, OKPKey, RSAKey
from pytest_aiohttp import AiohttpServer

from server.auth import oidc
from server.auth.claims import Identity
from server.auth.errors import AuthError
from server.auth.oidc import OidcVerifier

AUDIENCE = "hipster-timer-api"
ISSUER_PATH = "/realms/test"


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        """Return the current fake time."""
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        self.now += seconds


class FakeProvider:
    """Serve an OIDC discovery document and a JWKS, counting every request."""

    def __init__(self) -> None:
        self.issuer = ""
        self.hits: Counter[str] = Counter()
        self.published: list[Key] = []
        self.extra_jwks: list[dict[str, Any]] = []
        self.discovery_issuer: str | None = None
        self.jwks_status = 200
        self.jwks_body: str | None = None
        self.jwks_delay_s = 0.0

    def app(self) -> web.Application:
        """Build the provider's aiohttp application."""
        app = web.Application()
        app.router.add_get(f"{ISSUER_PATH}/.well-known/openid-configuration", self.discovery)
        app.router.add_get(f"{ISSUER_PATH}/jwks", self.jwks)
        return app

    async def discovery(self, request: web.Request) -> web.Response:
        """Serve the discovery document."""
        self.hits["discovery"] += 1
        issuer = self.issuer if self.discovery_issuer is None else self.discovery_issuer
        return web.json_response({"issuer": issuer, "jwks_uri": f"{self.issuer}/jwks"})

    async def jwks(self, request: web.Request) -> web.Response:
        """Serve the JWKS, or whatever failure the test configured."""
        self.hits["jwks"] += 1
        await asyncio.sleep(self.jwks_delay_s)
        if self.jwks_body is not None:
            return web.Response(text=self.jwks_body, status=self.jwks_status)
        keys = [key.as_dict(private=False) for key in self.published] + self.extra_jwks
        return web.json_response({"keys": keys}, status=self.jwks_status)


@pytest.fixture(scope="module")
def rsa_key() -> RSAKey:
    """Return the provider's first RSA signing key."""
    return RSAKey.generate_key(2048, parameters={"kid": "rsa-1", "use": "sig"})


@pytest.fixture(scope="module")
def rotated_key() -> RSAKey:
    """Return the RSA key the provider rotates to."""
    return RSAKey.generate_key(2048, parameters={"kid": "rsa-2", "use": "sig"})


@pytest.fixture(scope="module")
def ec_key() -> ECKey:
    """Return the provider's P-256 signing key."""
    return ECKey.generate_key("P-256", parameters={"kid": "ec-1"})


@pytest.fixture(scope="module")
def ed_key() -> OKPKey:
    """Return the provider's Ed25519 signing key."""
    return OKPKey.generate_key("Ed25519", parameters={"kid": "ed-1"})


@pytest.fixture
async def provider(
    aiohttp_server: AiohttpServer, rsa_key: RSAKey, ec_key: ECKey, ed_key: OKPKey
) -> FakeProvider:
    """Start a provider on 127.0.0.1 publishing the RSA, EC and Ed25519 keys."""
    fake = FakeProvider()
    fake.published = [rsa_key, ec_key, ed_key]
    server = await aiohttp_server(fake.app(), host="127.0.0.1")
    fake.issuer = str(server.make_url(ISSUER_PATH))
    return fake


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """Yield a client session for the verifier."""
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
def clock() -> FakeClock:
    """Return the verifier's cache clock."""
    return FakeClock()


@pytest.fixture
def make_verifier(
    provider: FakeProvider, session: aiohttp.ClientSession, clock: FakeClock
) -> Callable[..., OidcVerifier]:
    """Return a factory for verifiers pointed at the fake provider."""

    def make(**overrides: Any) -> OidcVerifier:
        return OidcVerifier(provider.issuer, AUDIENCE, session=session, clock=clock, **overrides)

    return make


@pytest.fixture
def verifier(make_verifier: Callable[..., OidcVerifier]) -> OidcVerifier:
    """Return a verifier with the default settings."""
    return make_verifier()


def claims_for(provider: FakeProvider, **overrides: Any) -> dict[str, Any]:
    """Return valid claims for the provider, with overrides (None removes a claim)."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": provider.issuer,
        "aud": AUDIENCE,
        "sub": "user-42",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "email": "ada@example.com",
        "email_verified": True,
        "name": "Ada Lovelace",
        "picture": "https://example.com/ada.png",
    }
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


def sign(key: Key, claims: dict[str, Any], alg: str = "RS256", kid: str | None = "") -> str:
    """Sign claims with key; kid "" means the key's own kid, None means no kid header."""
    header: dict[str, Any] = {"alg": alg}
    resolved_kid = key.kid if kid == "" else kid
    if resolved_kid is not None:
        header["kid"] = resolved_kid
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "EdDSA is deprecated", SecurityWarning)
        return jwt.encode(header, claims, key, algorithms=[alg])


def b64(data: bytes) -> str:
    """Encode bytes as unpadded base64url."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64_json(value: dict[str, Any]) -> str:
    """Encode a JSON object as an unpadded base64url segment."""
    return b64(json.dumps(value).encode())


async def test_rs256_token_verifies_into_identity(
    provider: FakeProvider, verifier: OidcVerifier, rsa_key: RSAKey
) -> None:
    claims = claims_for(provider)

    identity = await verifier.verify(sign(rsa_key, claims))

    assert identity == Identity(
        sub="user-42",
        email="ada@example.com",
        email_verified=True,
        name="Ada Lovelace",
        picture="https://example.com/ada.png",
        expires_at=float(claims["exp"]),
        issuer=provider.issuer,
    )
    assert provider.hits == {"discovery": 1, "jwks": 1}


async def test_es256_token_verifies(
    provider: FakeProvider, verifier: OidcVerifier, ec_key: ECKey
) -> None:
    identity = await verifier.verify(sign(ec_key, claims_for(provider, sub="ec-user"), "ES256"))

    assert identity.sub == "ec-user"
    assert identity.issuer == provider.issuer


async def test_eddsa_token_verifies(
    provider: FakeProvider, verifier: OidcVerifier, ed_key: OKPKey
) -> None:
    identity = await verifier.verify(sign(ed_key, claims_for(provider, sub="ed-user"), "EdDSA"))

    assert identity.sub == "ed-user"


async def test_ps256_token_verifies(
    provider: FakeProvider, verifier: OidcVerifier, rsa_key: RSAKey
) -> None:
    identity = await verifier.verify(sign(rsa_key, claims_for(provider), "PS256"))

    assert identity.sub == "user-42"


async def test_cached_keys_serve_later_tokens_without_fetching(
    provider: FakeProvider, verifier: OidcVerifier, rsa_key: RSAKey, ec_key: ECKey
) -> None:
    await verifier.verify(sign(rsa_key, claims_for(provider)))
    await verifier.verify(sign(ec_key, claims_for(provider), "ES256"))
    await verifier.verify(sign(rsa_key, claims_for(provider, sub="other")))

    assert provider.hits == {"discovery": 1, "jwks": 1}


async def test_optional_claims_fall_back(
    provider: FakeProvider, verifier: OidcVerifier, rsa_key: RSAKey
) -> None:
    claims = claims_for(
        provider,
        name=None,
        picture=None,
        email=None,
        preferred_username="ada",
        email_verified="true",
    )

    identity = await verifier.verify(sign(rsa_key, claims))

    assert (identity.name, identity.email, identity.email_verified, identity.picture) == (
        "ada",
        None,
        False,
        None,
    )


async def test_token_without_kid_uses_the_only_matching_key(
    provider: FakeProvider, verifier: OidcVerifier, ec_key: ECKey
) -> None:
    identity = await verifier.verify(sign(ec_key, claims_for(provider), "ES256", kid=None))

    assert identity.sub == "user-42"


async def test_audience_list_containing_ours_is_accepted(
    provider: FakeProvider, verifier: OidcVerifier, rsa_key: RSAKey
) -> None:
    claims = claims_for(provider, aud=["other-api", AUDIENCE])

    assert (await verifier.verify(sign(rsa_key, claims))).sub == "user-42"


async def test_recently_expired_token_is_accepted_within_leeway(
    provider: FakeProvider, verifier: OidcVerifier, rsa_key: RSAKey
) -> None:
    claims = claims_for(provider, exp=int(time.time()) - 10)

    assert (await verifier.verify(sign(rsa_key, claims))).sub == "user-42"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"exp": -60}, "expired"),
        ({"exp": None}, "missing required claim"),
        ({"nbf": 120}, "'nbf'"),
        ({"iat": 120}, "'iat'"),
        ({"sub": None}, "missing required claim"),
        ({"sub": "x" * 256}, "longer than 255"),
    ],
)
async def test_bad_time_or_subject_claims_are_refused(
    provider: FakeProvider,
    verifier: OidcVerifier,
    rsa_key: RSAKey,
    overrides: dict[str, Any],
    message: str,
) -> None:
    now = int(time.time())
    shifted = {
        name: now + value if isinstance(value, int) and name in ("exp", "nbf", "iat") else value
        for name, value in overrides.items()
    }

    with pytest.raises(AuthError, match=message):
        await verifier.verify(sign(rsa_key, claims_for(provider, **shifted)))


async def test_wrong_issuer_is_refused(
    provider: FakeProvider, verifier: OidcVerifier, rsa_key: RSAKey
) -> None:
    claims = claims_for(provider, iss=provider.issuer + "/")

    with pytest.raises(AuthError, match="'iss'"):
        await verifier.verify(sign(rsa_key, claims))


@pytest.mark.parametrize("aud", ["other-api", ["other-api", "third-api"], "", []])
async def test_wrong_audience_is_refused(
    provider: FakeProvider, verifier: OidcVerifier, rsa_key: RSAKey, aud: str | list[str]
) -> None:
    with pytest.raises(AuthError, match="'aud'"):
        await verifier.verify(sign(rsa_key, claims_for(provider, aud=aud)))


async def test_tampered_token_is_refused(
    provider: FakeProvider, verifier: OidcVerifier, rsa_key: RSAKey
) -> None:
    header, _, signature = sign(rsa_key, claims_for(provider)).split(".")
    forged = b64_json(claims_for(provider, sub="admin"))

    with pytest.raises(AuthError, match="signature is invalid"):
        await verifier.verify(f"{header}.{forged}.{signature}")


async def test_token_signed_by_an_unpublished_key_is_refused(
    provider: FakeProvider, verifier: OidcVerifier, rotated_key: RSAKey
) -> None:
    impostor = RSAKey.generate_key(2048, parameters={"kid": "rsa-1"})

    with pytest.raises(AuthError, match="signature is invalid"):
        await verifier.verify(sign(impostor, claims_for(provider)))


async def test_alg_none_is_refused_before_any_fetch(
    provider: FakeProvider, verifier: OidcVerifier
) -> None:
    token = f"{b64_json({'alg': 'none', 'kid': 'rsa-1'})}.{b64_json(claims_for(provider))}."

    with pytest.raises(AuthError, match="algorithm is not allowed"):
        await verifier.verify(token)
    assert provider.hits == {}


async def test_hs256_signed_with_the_public_key_is_refused(
    provider: FakeProvider, verifier: OidcVerifier, rsa_key: RSAKey
) -> None:
    # The classic confusion attack: HMAC keyed with the public key everyone can download.
    for public in (rsa_key.as_pem(private=False), json.dumps(rsa_key.as_dict()).encode()):
        signing_input = (
            f"{b64_json({'alg': 'HS256', 'kid': 'rsa-1'})}.{b64_json(claims_for(provider))}"
        )
        mac = hmac.new(public, signing_input.encode(), hashlib.sha256).digest()

        with pytest.raises(AuthError, match="algorithm is not allowed"):
            await verifier.verify(f"{signing_input}.{b64(mac)}")
    assert provider.hits == {}


async def test_algorithm_outside_the_configured_list_is_refused(
    provider: FakeProvider, make_verifier: Callable[..., OidcVerifier], ec_key: ECKey
) -> None:
    verifier = make_verifier(algorithms=("RS256",))

    with pytest.raises(AuthError, match="algorithm is not allowed"):
        await verifier.verify(sign(ec_key, claims_for(provider), "ES256"))


async def test_key_of_the_wrong_type_for_the_alg_is_refused(
    provider: FakeProvider, verifier: OidcVerifier, rsa_key: RSAKey
) -> None:
    # Header claims ES256 under the RSA key's kid: no EC key has that kid.
    header = b64_json({"alg": "ES256", "kid": "rsa-1"})
    _, payload, signature = sign(rsa_key, claims_for(provider)).split(".")

    with pytest.raises(AuthError, match="no published signing key"):
        await verifier.verify(f"{header}.{payload}.{signature}")


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "ü.ü.ü", "e30.e30.e30"])
async def test_malformed_token_is_refused(verifier: OidcVerifier, garbage: str) -> None:
    with pytest.raises(AuthError, match="token is malformed"):
        await verifier.verify(garbage)


async def test_key_rotation_refetches_the_jwks_once(
    provider: FakeProvider,
    verifier: OidcVerifier,
    clock: FakeClock,
    rsa_key: RSAKey,
    rotated_key: RSAKey,
) -> None:
    await verifier.verify(sign(rsa_key, claims_for(provider)))
    provider.published = [rotated_key]
    clock.advance(31)

    identity = await verifier.verify(sign(rotated_key, claims_for(provider, sub="rotated")))
    await verifier.verify(sign(rotated_key, claims_for(provider)))

    assert identity.sub == "rotated"
    assert provider.hits == {"discovery": 1, "jwks": 2}


async def test_unknown_kid_refetches_at_most_once_per_interval(
    provider: FakeProvider, verifier: OidcVerifier, clock: FakeClock, rsa_key: RSAKey
) -> None:
    unknown = sign(rsa_key, claims_for(provider), kid="sprayed")
    await verifier.verify(sign(rsa_key, claims_for(provider)))

    with pytest.raises(AuthError, match="no published signing key"):
        await verifier.verify(unknown)
    assert provider.hits["jwks"] == 1  # the keys were fetched moments ago

    clock.advance(31)
    for _ in range(2):
        with pytest.raises(AuthError, match="no published signing key"):
            await verifier.verify(unknown)
    assert provider.hits["jwks"] == 2

    clock.advance(31)
    with pytest.raises(AuthError, match="no published signing key"):
        await verifier.verify(unknown)
    assert provider.hits == {"discovery": 1, "jwks": 3}


@pytest.mark.parametrize("min_refetch_interval_s", [30, 0])
async def test_concurrent_verifies_on_a_cold_cache_share_one_fetch(
    provider: FakeProvider,
    make_verifier: Callable[..., OidcVerifier],
    rsa_key: RSAKey,
    ec_key: ECKey,
    min_refetch_interval_s: float,
) -> None:
    verifier = make_verifier(min_refetch_interval_s=min_refetch_interval_s)
    provider.jwks_delay_s = 0.05
    tokens = [sign(rsa_key, claims_for(provider, sub=f"user-{n}")) for n in range(8)]
    tokens.append(sign(ec_key, claims_for(provider, sub="user-8"), "ES256"))

    identities = await asyncio.gather(*(verifier.verify(token) for token in tokens))

    assert [identity.sub for identity in identities] == [f"user-{n}" for n in range(9)]
    assert provider.hits == {"discovery": 1, "jwks": 1}


@pytest.mark.parametrize("min_refetch_interval_s", [30, 0])
async def test_concurrent_unknown_kids_share_one_refetch(
    provider: FakeProvider,
    make_verifier: Callable[..., OidcVerifier],
    clock: FakeClock,
    rsa_key: RSAKey,
    rotated_key: RSAKey,
    min_refetch_interval_s: float,
) -> None:
    verifier = make_verifier(min_refetch_interval_s=min_refetch_interval_s)
    await verifier.verify(sign(rsa_key, claims_for(provider)))
    provider.published = [rsa_key, rotated_key]
    provider.jwks_delay_s = 0.05
    clock.advance(31)
    tokens = [sign(rotated_key, claims_for(provider, sub=f"user-{n}")) for n in range(5)]

    identities = await asyncio.gather(*(verifier.verify(token) for token in tokens))

    assert [identity.sub for identity in identities] == [f"user-{n}" for n in range(5)]
    assert provider.hits == {"discovery": 1, "jwks": 2}


async def test_jwks_is_refetched_after_its_ttl(
    provider: FakeProvider,
    make_verifier: Callable[..., OidcVerifier],
    clock: FakeClock,
    rsa_key: RSAKey,
) -> None:
    verifier = make_verifier(jwks_ttl_s=600)
    token = sign(rsa_key, claims_for(provider))
    await verifier.verify(token)

    clock.advance(599)
    await verifier.verify(token)
    assert provider.hits["jwks"] == 1

    clock.advance(1)
    await verifier.verify(token)
    assert provider.hits == {"discovery": 1, "jwks": 2}


async def test_stale_keys_are_kept_when_the_ttl_refresh_fails(
    provider: FakeProvider,
    make_verifier: Callable[..., OidcVerifier],
    clock: FakeClock,
    rsa_key: RSAKey,
) -> None:
    verifier = make_verifier(jwks_ttl_s=600)
    token = sign(rsa_key, claims_for(provider))
    await verifier.verify(token)
    provider.jwks_status = 503
    clock.advance(600)

    assert (await verifier.verify(token)).sub == "user-42"
    assert (await verifier.verify(token)).sub == "user-42"
    assert provider.hits == {"discovery": 1, "jwks": 2}


async def test_discovery_issuer_mismatch_is_refused(
    provider: FakeProvider, verifier: OidcVerifier, rsa_key: RSAKey
) -> None:
    provider.discovery_issuer = "https://evil.example.com/realms/test"

    with pytest.raises(AuthError, match="different issuer"):
        await verifier.verify(sign(rsa_key, claims_for(provider)))
    assert provider.hits == {"discovery": 1}


async def test_jwks_server_error_is_refused_and_not_hammered(
    provider: FakeProvider, verifier: OidcVerifier, clock: FakeClock, rsa_key: RSAKey
) -> None:
    token = sign(rsa_key, claims_for(provider))
    provider.jwks_status = 500

    with pytest.raises(AuthError, match="HTTP 500"):
        await verifier.verify(token)
    with pytest.raises(AuthError, match="last JWKS fetch failed"):
        await verifier.verify(token)
    assert provider.hits == {"discovery": 1, "jwks": 1}

    provider.jwks_status = 200
    clock.advance(30)
    assert (await verifier.verify(token)).sub == "user-42"
    assert provider.hits == {"discovery": 1, "jwks": 2}


@pytest.mark.parametrize(
    ("body", "message"),
    [("not json", "not valid JSON"), ("[1, 2]", "not a JSON object"), ("{}", "no keys list")],
)
async def test_unusable_jwks_body_is_refused(
    provider: FakeProvider, verifier: OidcVerifier, rsa_key: RSAKey, body: str, message: str
) -> None:
    provider.jwks_body = body

    with pytest.raises(AuthError, match=message):
        await verifier.verify(sign(rsa_key, claims_for(provider)))


async def test_slow_jwks_times_out(
    provider: FakeProvider,
    verifier: OidcVerifier,
    rsa_key: RSAKey,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(oidc, "HTTP_TIMEOUT_S", 0.1)
    provider.jwks_delay_s = 2

    with pytest.raises(AuthError, match="JWKS request failed"):
        await verifier.verify(sign(rsa_key, claims_for(provider)))


async def test_encryption_and_symmetric_keys_in_the_jwks_are_ignored(
    provider: FakeProvider, verifier: OidcVerifier
) -> None:
    enc_key = RSAKey.generate_key(2048, parameters={"kid": "enc-1"})
    provider.extra_jwks.append({**enc_key.as_dict(private=False), "use": "enc"})
    provider.extra_jwks.append({"kty": "oct", "kid": "oct-1", "k": b64(b"s" * 32)})

    with pytest.raises(AuthError, match="no published signing key"):
        await verifier.verify(sign(enc_key, claims_for(provider), kid="enc-1"))


async def test_weak_rsa_keys_in_the_jwks_are_ignored(
    provider: FakeProvider, verifier: OidcVerifier
) -> None:
    raw = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Key size should be >= 2048 bits", SecurityWarning)
        weak_key = RSAKey.import_key(raw, parameters={"kid": "weak-1"})
        token = sign(weak_key, claims_for(provider))
    provider.extra_jwks.append(weak_key.as_dict(private=False))

    with pytest.raises(AuthError, match="no published signing key"):
        await verifier.verify(token)


async def test_error_message_never_contains_the_token(
    provider: FakeProvider, verifier: OidcVerifier, rsa_key: RSAKey
) -> None:
    token = sign(rsa_key, claims_for(provider, aud="other-api"))

    with pytest.raises(AuthError) as caught:
        await verifier.verify(token)

    assert token not in str(caught.value)
    assert token.split(".")[1] not in str(caught.value)


@pytest.mark.parametrize("algorithms", [("HS256",), ("RS256", "HS512"), ("none",), ("NONE",)])
async def test_symmetric_or_unsigned_algorithms_are_refused(
    session: aiohttp.ClientSession, algorithms: tuple[str, ...]
) -> None:
    with pytest.raises(ValueError, match="use an asymmetric algorithm"):
        OidcVerifier("https://id.example.com", AUDIENCE, session=session, algorithms=algorithms)


@pytest.mark.parametrize(
    ("algorithms", "message"),
    [(("RS1",), "unsupported algorithm 'RS1'"), ((), "at least one"), ("RS256", "single string")],
)
async def test_unknown_or_empty_algorithms_are_refused(
    session: aiohttp.ClientSession, algorithms: tuple[str, ...] | str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        OidcVerifier("https://id.example.com", AUDIENCE, session=session, algorithms=algorithms)
