"""Password hashing (argon2id) and access tokens (JWT, HS256). No web framework here."""

from __future__ import annotations

import functools
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Literal, NamedTuple, TypeVar

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from .errors import Unauthorized

ALGORITHM = "HS256"
# Auth schemes are case-insensitive (RFC 9110); many clients send "Bearer", so it works too.
SCHEMES = frozenset({"token", "bearer"})
T = TypeVar("T")


class InvalidTokenError(Exception):
    """The token is missing, malformed, expired, tampered with or not ours."""


class HashingBusy(Exception):
    """Every hashing slot stayed taken for the whole wait: shed the request rather than queue it."""


# Hashing threads run at this niceness (Linux: a per-thread attribute), so request threads that
# serve everything else take the CPU first whenever both want it.
HASHING_NICENESS = 10


def _lower_priority() -> None:
    """Run the calling thread (and only it: Linux threads have their own nice value) at
    HASHING_NICENESS; elsewhere setpriority would slow the whole process, so leave it."""
    if sys.platform == "linux":
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASHING_NICENESS)


class BoundedPasswordHasher(PasswordHasher):
    """An argon2id hasher that runs at most `max_concurrency` hashes at once in this process,
    on threads of its own at a lower CPU priority.

    Hashing is the one CPU- and memory-heavy thing anonymous callers can ask for. Bounding it
    leaves the request threads, and the CPU, to everything else: a caller that finds every slot
    taken for `wait_seconds` gets HashingBusy at once instead of queuing on a request thread.
    """

    def __init__(
        self,
        time_cost: int,
        memory_cost: int,
        parallelism: int,
        *,
        max_concurrency: int = 1,
        wait_seconds: float = 0.0,
    ) -> None:
        super().__init__(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)
        self.max_concurrency = max(1, max_concurrency)
        self.wait_seconds = max(0.0, wait_seconds)
        self._slots = threading.BoundedSemaphore(self.max_concurrency)
        self._holding = threading.local()
        self._pool: ThreadPoolExecutor | None = None
        self._pool_pid = 0

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one hashing slot for this thread (re-entrant); HashingBusy when none frees up
        within the wait. A view may take it before its database work, so a busy server sheds
        the request before doing anything for it."""
        if getattr(self._holding, "slot", False):
            yield
            return
        if not self._slots.acquire(timeout=self.wait_seconds):
            raise HashingBusy(f"all {self.max_concurrency} password hashing slots are busy")
        self._holding.slot = True
        try:
            yield
        finally:
            self._holding.slot = False
            self._slots.release()

    def _run(self, work: Callable[[], T]) -> T:
        """Run argon2 on a low-priority hashing thread while this thread holds a slot."""
        with self.slot():
            if self._pool is None or self._pool_pid != os.getpid():
                # Created in the process that hashes: threads do not survive a fork.
                self._pool = ThreadPoolExecutor(
                    self.max_concurrency, "argon2", initializer=_lower_priority
                )
                self._pool_pid = os.getpid()
            return self._pool.submit(work).result()

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        """Hash a password within a slot."""
        return self._run(lambda: super(BoundedPasswordHasher, self).hash(password, salt=salt))

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        """Verify a password against a hash within a slot."""
        return self._run(lambda: super(BoundedPasswordHasher, self).verify(hash, password))


def make_hasher(
    time_cost: int,
    memory_cost: int,
    parallelism: int,
    max_concurrency: int = 1,
    wait_seconds: float = 0.0,
) -> BoundedPasswordHasher:
    """An argon2id hasher with the given cost, running at most max_concurrency hashes at once."""
    return BoundedPasswordHasher(
        time_cost=time_cost,
        memory_cost=memory_cost,
        parallelism=parallelism,
        max_concurrency=max_concurrency,
        wait_seconds=wait_seconds,
    )


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
        claims, expires = _verified(token, secret)
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise InvalidTokenError(str(exc)) from exc
    # The one check that changes with time is made on every call, as PyJWT makes it.
    if expires <= time.time():
        raise InvalidTokenError("Signature has expired")
    return claims


# A client sends the same token with every request: its signature and claims are verified once
# (PyJWT: base64, JSON, HMAC, about a tenth of a list request's CPU) and remembered by the exact
# token string and key, so what a cached entry says can never differ from verifying again.
# Failures are not cached (exceptions are never stored); 4,096 entries are about 2 MB.
@functools.lru_cache(maxsize=4096)
def _verified(token: str, secret: str) -> tuple[TokenClaims, float]:
    """The verified claims of a token and its expiry (seconds since the epoch)."""
    # Pinning the algorithm list rejects "none" and algorithm-confusion tokens.
    claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub"]})
    version = claims.get("ver", 0)
    if type(version) is not int:
        raise ValueError("the token version is not an integer")
    return TokenClaims(int(claims["sub"]), version), float(claims["exp"])


def token_from_header(header: str | None) -> str | None:
    """The token of an Authorization header ("Token" or "Bearer", any case); None without one,
    401 for any other scheme or an empty token."""
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() not in SCHEMES or not token.strip():
        raise Unauthorized("Authorization header must be 'Token <jwt>'.")
    return token.strip()
