"""Tests for the embedded HS256 issuer and its secret file."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import stat
from pathlib import Path
from typing import Any

import pytest

from server.auth.claims import Identity
from server.auth.embedded import EmbeddedIssuer, load_or_create_secret
from server.auth.errors import AuthError

SECRET = b"0123456789abcdef0123456789abcdef-embedded"
NOW = 1_700_000_000.0


def _b64(data: bytes) -> str:
    """Encode bytes as unpadded base64url."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(segment: str) -> bytes:
    """Decode unpadded base64url."""
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _segments(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    """Split a compact JWT into decoded header, decoded claims and raw signature."""
    header, payload, signature = token.split(".")
    return json.loads(_unb64(header)), json.loads(_unb64(payload)), signature


def _compact(header: dict[str, Any], claims: dict[str, Any], signature: str) -> str:
    """Join a header, claims and signature into a compact JWT."""
    parts = [_b64(json.dumps(part).encode()) for part in (header, claims)]
    return ".".join([*parts, signature])


def _hmac_signed(header: dict[str, Any], claims: dict[str, Any], key: bytes) -> str:
    """Build a JWT whose signature is HMAC-SHA of the header's hash size with ``key``."""
    signing_input = ".".join(_b64(json.dumps(part).encode()) for part in (header, claims))
    digest = {"HS256": hashlib.sha256, "HS512": hashlib.sha512}[header["alg"]]
    signature = hmac.new(key, signing_input.encode(), digest).digest()
    return f"{signing_input}.{_b64(signature)}"


@pytest.fixture
def issuer() -> EmbeddedIssuer:
    """Return an issuer with a fixed secret."""
    return EmbeddedIssuer(SECRET)


def test_mint_then_verify_roundtrips_identity(issuer: EmbeddedIssuer) -> None:
    token = issuer.mint("user-1", email="ada@example.com", name="Ada", ttl_s=600, now=NOW)

    identity = issuer.verify(token, now=NOW + 599)

    assert identity == Identity(
        sub="user-1",
        email="ada@example.com",
        email_verified=True,
        name="Ada",
        picture=None,
        expires_at=NOW + 600,
        issuer="hipster-timer",
    )


def test_minted_token_carries_the_registered_claims(issuer: EmbeddedIssuer) -> None:
    token = issuer.mint("user-1", email="ada@example.com", name="Ada", ttl_s=600, now=NOW)

    header, claims, _ = _segments(token)

    assert header == {"typ": "JWT", "alg": "HS256"}
    jti = claims.pop("jti")
    assert isinstance(jti, str)
    assert len(jti) >= 16
    assert claims == {
        "iss": "hipster-timer",
        "aud": "hipster-timer",
        "sub": "user-1",
        "iat": 1_700_000_000,
        "exp": 1_700_000_600,
        "email": "ada@example.com",
        "email_verified": True,
        "name": "Ada",
    }


def test_every_token_gets_a_fresh_jti(issuer: EmbeddedIssuer) -> None:
    first = _segments(issuer.mint("user-1", now=NOW))[1]["jti"]
    second = _segments(issuer.mint("user-1", now=NOW))[1]["jti"]

    assert first != second


def test_token_without_email_is_not_verified(issuer: EmbeddedIssuer) -> None:
    identity = issuer.verify(issuer.mint("user-2", now=NOW), now=NOW)

    assert identity.email is None
    assert identity.email_verified is False
    assert identity.name is None
    assert "email_verified" not in _segments(issuer.mint("user-2", now=NOW))[1]


def test_token_is_refused_at_its_expiry(issuer: EmbeddedIssuer) -> None:
    token = issuer.mint("user-1", ttl_s=60, now=NOW)

    assert issuer.verify(token, now=NOW + 59).sub == "user-1"
    with pytest.raises(AuthError, match="expired"):
        issuer.verify(token, now=NOW + 60)


def test_token_issued_in_the_future_is_refused(issuer: EmbeddedIssuer) -> None:
    token = issuer.mint("user-1", ttl_s=600, now=NOW)

    with pytest.raises(AuthError, match="'iat'"):
        issuer.verify(token, now=NOW - 1)


def test_tampered_claims_are_refused(issuer: EmbeddedIssuer) -> None:
    header, claims, signature = _segments(issuer.mint("user-1", now=NOW))
    claims["sub"] = "admin"

    with pytest.raises(AuthError, match="signature"):
        issuer.verify(_compact(header, claims, signature), now=NOW)


def test_token_from_another_secret_is_refused(issuer: EmbeddedIssuer) -> None:
    other = EmbeddedIssuer(b"another-secret-that-is-long-enough-too")

    with pytest.raises(AuthError, match="signature"):
        issuer.verify(other.mint("user-1", now=NOW), now=NOW)


def test_token_for_another_issuer_or_audience_is_refused(issuer: EmbeddedIssuer) -> None:
    wrong_iss = EmbeddedIssuer(SECRET, issuer="someone-else").mint("user-1", now=NOW)
    wrong_aud = EmbeddedIssuer(SECRET, audience="someone-else").mint("user-1", now=NOW)

    with pytest.raises(AuthError, match="'iss'"):
        issuer.verify(wrong_iss, now=NOW)
    with pytest.raises(AuthError, match="'aud'"):
        issuer.verify(wrong_aud, now=NOW)


def test_alg_none_is_refused(issuer: EmbeddedIssuer) -> None:
    _, claims, _ = _segments(issuer.mint("user-1", now=NOW))

    with pytest.raises(AuthError, match="algorithm"):
        issuer.verify(_compact({"alg": "none", "typ": "JWT"}, claims, ""), now=NOW)


def test_other_hmac_alg_with_the_right_secret_is_refused(issuer: EmbeddedIssuer) -> None:
    _, claims, _ = _segments(issuer.mint("user-1", now=NOW))
    hs256 = _hmac_signed({"alg": "HS256", "typ": "JWT"}, claims, SECRET)
    hs512 = _hmac_signed({"alg": "HS512", "typ": "JWT"}, claims, SECRET)

    assert issuer.verify(hs256, now=NOW).sub == "user-1"
    with pytest.raises(AuthError, match="algorithm"):
        issuer.verify(hs512, now=NOW)


@pytest.mark.parametrize("garbage", ["", "abc", "a.b", "a.b.c", "ü.ü.ü", "e30.e30.e30"])
def test_malformed_token_is_refused(issuer: EmbeddedIssuer, garbage: str) -> None:
    with pytest.raises(AuthError, match="malformed"):
        issuer.verify(garbage, now=NOW)


def test_error_message_never_contains_the_token(issuer: EmbeddedIssuer) -> None:
    token = issuer.mint("user-1", ttl_s=60, now=NOW)

    with pytest.raises(AuthError) as caught:
        issuer.verify(token, now=NOW + 3600)

    assert token not in str(caught.value)
    assert token.split(".")[1] not in str(caught.value)


def test_short_secret_is_refused_by_the_issuer() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        EmbeddedIssuer(b"x" * 31)


def test_mint_refuses_empty_or_oversized_subject(issuer: EmbeddedIssuer) -> None:
    with pytest.raises(ValueError, match="sub"):
        issuer.mint("")
    with pytest.raises(ValueError, match="sub"):
        issuer.mint("x" * 256)


def test_secret_file_is_created_private_and_read_back(tmp_path: Path) -> None:
    created = load_or_create_secret(tmp_path, None)

    path = tmp_path / "signing.key"
    assert len(created) == 64
    assert path.read_bytes() == created
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_secret(tmp_path, None) == created
    assert sorted(p.name for p in tmp_path.iterdir()) == ["signing.key"]


def test_secret_file_is_created_in_a_missing_data_dir(tmp_path: Path) -> None:
    created = load_or_create_secret(tmp_path / "a" / "b", None)

    assert (tmp_path / "a" / "b" / "signing.key").read_bytes() == created


def test_configured_secret_wins_and_writes_nothing(tmp_path: Path) -> None:
    configured = "é" * 16  # 16 characters, 32 UTF-8 bytes

    assert load_or_create_secret(tmp_path, configured) == configured.encode("utf-8")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("configured", ["", "short", "x" * 31])
def test_short_configured_secret_is_refused(tmp_path: Path, configured: str) -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        load_or_create_secret(tmp_path, configured)


def test_truncated_secret_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "signing.key").write_bytes(b"too short")

    with pytest.raises(ValueError, match="at least 32"):
        load_or_create_secret(tmp_path, None)


def test_created_secret_verifies_tokens_after_reload(tmp_path: Path) -> None:
    token = EmbeddedIssuer(load_or_create_secret(tmp_path, None)).mint("user-1", now=NOW)

    reloaded = EmbeddedIssuer(load_or_create_secret(tmp_path, None))

    assert reloaded.verify(token, now=NOW).sub == "user-1"
