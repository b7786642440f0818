"""The embedded token issuer used when the server runs alone on one machine."""

from __future__ import annotations

import os
import secrets
import tempfile
import time
from pathlib import Path
from typing import Any

from joserfc import jwt
from joserfc.jwk import OctKey

from server.auth.claims import (
    MAX_EXPIRY_S,
    MAX_SUB_LENGTH,
    Identity,
    check_registered_claims,
    decode_signed,
    identity_from_claims,
)

ALGORITHM = "HS256"
MIN_SECRET_BYTES = 32
GENERATED_SECRET_BYTES = 64
SECRET_FILE_NAME = "signing.key"


class EmbeddedIssuer:
    """Mint and verify HS256 tokens with a server-local secret."""

    def __init__(
        self,
        secret: bytes,
        issuer: str = "hipster-timer",
        audience: str = "hipster-timer",
    ) -> None:
        if len(secret) < MIN_SECRET_BYTES:
            raise ValueError(f"signing secret must be at least {MIN_SECRET_BYTES} bytes")
        self._key = OctKey.import_key(secret)
        self.issuer = issuer
        self.audience = audience

    def mint(
        self,
        sub: str,
        *,
        email: str | None = None,
        email_verified: bool = True,
        name: str | None = None,
        ttl_s: int = 3600,
        now: float | None = None,
    ) -> str:
        """Return a signed token for ``sub`` valid for ``ttl_s`` seconds."""
        issued_at = int(time.time() if now is None else now)
        _check_mint_args(sub, ttl_s, issued_at)
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": sub,
            "iat": issued_at,
            "exp": issued_at + ttl_s,
            "jti": secrets.token_urlsafe(16),
        }
        if email is not None:
            claims["email"] = email
            claims["email_verified"] = email_verified
        if name is not None:
            claims["name"] = name
        return jwt.encode({"alg": ALGORITHM}, claims, self._key, algorithms=[ALGORITHM])

    def verify(self, token: str, *, now: float | None = None) -> Identity:
        """Return the Identity in ``token`` or raise AuthError."""
        claims = decode_signed(token, self._key, ALGORITHM)
        check_registered_claims(
            claims,
            issuer=self.issuer,
            audience=self.audience,
            now=time.time() if now is None else now,
            leeway_s=0,
            require_iat=True,
        )
        return identity_from_claims(claims, self.issuer)


def _check_mint_args(sub: str, ttl_s: int, issued_at: int) -> None:
    """Refuse arguments that would mint a token verify() rejects."""
    if not sub or len(sub) > MAX_SUB_LENGTH:
        raise ValueError(f"sub must be 1 to {MAX_SUB_LENGTH} characters")
    if ttl_s <= 0:
        raise ValueError("ttl_s must be positive")
    if issued_at + ttl_s > MAX_EXPIRY_S:
        raise ValueError("ttl_s would expire the token after 9999-12-31T23:59:59Z")


def load_or_create_secret(data_dir: Path, configured: str | None) -> bytes:
    """Return the configured secret, else the one in data_dir, creating it on first run."""
    if configured is not None:
        return _configured_secret(configured)
    path = data_dir / SECRET_FILE_NAME
    try:
        secret = path.read_bytes()
    except FileNotFoundError:
        return _create_secret(path)
    if len(secret) < MIN_SECRET_BYTES:
        raise ValueError(
            f"{path} holds {len(secret)} bytes but a signing secret needs at least "
            f"{MIN_SECRET_BYTES}; delete it to generate a new one (this logs everyone out)"
        )
    return secret


def _configured_secret(configured: str) -> bytes:
    """Return the configured secret's bytes, refusing short ones."""
    secret = configured.encode("utf-8")
    if len(secret) < MIN_SECRET_BYTES:
        raise ValueError(
            f"the configured signing secret is {len(secret)} bytes but must be at least "
            f"{MIN_SECRET_BYTES} bytes of UTF-8; generate one with "
            "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`"
        )
    return secret


def _create_secret(path: Path) -> bytes:
    """Write a fresh random secret to ``path`` atomically with mode 0o600."""
    secret = secrets.token_bytes(GENERATED_SECRET_BYTES)
    path.parent.mkdir(parents=True, exist_ok=True)
    # mkstemp creates the file 0o600, so the secret is never readable by others.
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(secret)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.chmod(tmp_name, 0o600)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return secret
