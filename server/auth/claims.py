"""Verify JWT signatures and claims and turn them into the caller's Identity."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    DecodeError,
    ExpiredTokenError,
    InvalidPayloadError,
    JoseError,
    MissingAlgorithmError,
    MissingClaimError,
    SecurityWarning,
    UnsupportedAlgorithmError,
)
from joserfc.jwk import Key
from joserfc.jws import JWSRegistry
from joserfc.jwt import ClaimsOption, JWTClaimsRegistry

from server.auth.errors import AuthError

MAX_SUB_LENGTH = 255
# The last instant RFC 3339 can write (9999-12-31T23:59:59Z): a later expiry is no date.
MAX_EXPIRY_S = 253_402_300_799


@dataclass(frozen=True, slots=True)
class Identity:
    """A verified caller, as asserted by a token issuer."""

    sub: str
    email: str | None
    email_verified: bool
    name: str | None
    picture: str | None
    expires_at: float
    issuer: str


def identity_from_claims(claims: dict[str, Any], issuer: str) -> Identity:
    """Build an Identity from already-verified claims."""
    return Identity(
        sub=_subject(claims),
        email=_optional_str(claims, "email"),
        email_verified=claims.get("email_verified") is True,
        name=_optional_str(claims, "name") or _optional_str(claims, "preferred_username"),
        picture=_optional_str(claims, "picture"),
        expires_at=_expiry(claims),
        issuer=issuer,
    )


def decode_signed(token: str, key: Key, algorithm: str) -> dict[str, Any]:
    """Verify the token's signature with one key and one algorithm and return its claims."""
    # Unknown header parameters are ignorable (RFC 7515 section 4); "crit" is still enforced.
    registry = JWSRegistry(algorithms=[algorithm], strict_check_header=False)
    try:
        with warnings.catch_warnings():
            # joserfc flags "EdDSA" as superseded by RFC 9864; allowing it is the caller's choice.
            warnings.filterwarnings("ignore", "EdDSA is deprecated", SecurityWarning)
            return jwt.decode(token, key, algorithms=[algorithm], registry=registry).claims
    except BadSignatureError as error:
        raise AuthError("token signature is invalid") from error
    except UnsupportedAlgorithmError as error:
        raise AuthError("token algorithm is not allowed") from error
    except (DecodeError, InvalidPayloadError, MissingAlgorithmError) as error:
        raise AuthError("token is malformed") from error
    except JoseError as error:
        raise AuthError(f"token could not be verified ({error.error})") from error
    except (ValueError, TypeError) as error:
        raise AuthError("token is malformed") from error


def check_registered_claims(
    claims: dict[str, Any],
    *,
    issuer: str,
    audience: str,
    now: float,
    leeway_s: int,
    require_iat: bool = False,
) -> None:
    """Validate iss, aud, exp, nbf and iat against the expected values and clock."""
    options: dict[str, ClaimsOption] = {
        "iss": {"essential": True, "value": issuer},
        "aud": {"essential": True, "value": audience},
        "exp": {"essential": True},
        "sub": {"essential": True},
    }
    if require_iat:
        options["iat"] = {"essential": True}
    registry = JWTClaimsRegistry(now=int(now), leeway=leeway_s, **options)
    try:
        registry.validate(claims)
    except ExpiredTokenError as error:
        raise AuthError("token has expired") from error
    except MissingClaimError as error:
        raise AuthError(f"token is missing required claim(s): {error.claim}") from error
    except JoseError as error:
        raise AuthError(f"token claim {_claim_name(error)!r} is invalid") from error


def _claim_name(error: JoseError) -> str:
    """Return the claim a joserfc claims error is about."""
    return str(getattr(error, "claim", "unknown"))


def _subject(claims: dict[str, Any]) -> str:
    """Return the sub claim or refuse the token."""
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise AuthError("token has no subject")
    if len(sub) > MAX_SUB_LENGTH:
        raise AuthError(f"token subject is longer than {MAX_SUB_LENGTH} characters")
    return sub


def _expiry(claims: dict[str, Any]) -> float:
    """Return the exp claim as unix seconds or refuse the token."""
    exp = claims.get("exp")
    # bool is an int subclass; a JSON true is not a date.
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        raise AuthError("token has no valid expiry")
    try:
        expires_at = float(exp)
    except OverflowError as error:
        raise AuthError("token has no valid expiry") from error
    if not math.isfinite(expires_at) or expires_at > MAX_EXPIRY_S:
        raise AuthError("token has no valid expiry")
    return expires_at


def _optional_str(claims: dict[str, Any], name: str) -> str | None:
    """Return a claim when it is a non-empty string, else None."""
    value = claims.get(name)
    return value if isinstance(value, str) and value else None
