"""Password hashing (argon2id) and access tokens (JWT, HS256). No Flask here."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import NamedTuple

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

ALGORITHM = "HS256"


class InvalidTokenError(Exception):
    """The token is missing, malformed, expired, tampered with or not ours."""


def make_hasher(time_cost: int, memory_cost: int, parallelism: int) -> PasswordHasher:
    """An argon2id hasher with the given cost parameters."""
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)


def hash_password(hasher: PasswordHasher, password: str) -> str:
    """Hash a password for storage."""
    return hasher.hash(password)


def verify_password(hasher: PasswordHasher, stored_hash: str, password: str) -> bool:
    """Whether the password matches the stored hash."""
    try:
        return hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


class TokenClaims(NamedTuple):
    """What a valid token says: whose it is and which token version of the account it carries."""

    user_id: int
    version: int


def encode_token(user_id: int, secret: str, lifetime: timedelta, version: int = 0) -> str:
    """A signed token for the user, valid while the account's token version is `version`."""
    now = datetime.now(UTC)
    claims = {"sub": str(user_id), "ver": version, "iat": now, "exp": now + lifetime}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def decode_token(token: str, secret: str) -> TokenClaims:
    """The claims of a valid token; InvalidTokenError otherwise.

    A token without "ver" (issued before versions existed) counts as version 0, so it stays
    valid until the account's first password change.
    """
    try:
        # Pinning the algorithm list rejects "none" and algorithm-confusion tokens.
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub"]}
        )
        version = claims.get("ver", 0)
        if type(version) is not int:
            raise InvalidTokenError("the token version is not an integer")
        return TokenClaims(int(claims["sub"]), version)
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise InvalidTokenError(str(exc)) from exc
