"""Dependencies resolved once per request: the session, the reader and the caller."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Header
from sqlalchemy.orm import Session

from webapp.core import security
from webapp.core.errors import Unauthorized
from webapp.core.models import User

from .database import POOL_CAPACITY, get_db
from .settings import settings

SECRET_KEY = settings.signing_key()
TOKEN_LIFETIME = timedelta(seconds=settings.jwt_lifetime_seconds)
hasher = security.make_hasher(
    settings.argon2_time_cost,
    settings.argon2_memory_cost,
    settings.argon2_parallelism,
    settings.argon2_max_concurrency,
    settings.argon2_wait_ms / 1000,
)
_dummy_hash: list[str] = []

# A request's session keeps its pooled connection across several thread-pool hops (dependencies,
# the endpoint, the response's validation), so a request can hold a connection while it waits for
# a thread. Unbounded, more requests than connections start sessions, and with as many threads
# as connections every thread can end up waiting for a connection held by a request that waits
# for a thread: the pool times out (503) instead of serving. max_concurrency admits only as many
# sessions at once as the pool has connections; further requests wait on the event loop, holding
# nothing (as gunicorn's gthread workers queue requests beyond their threads). scope="function"
# closes the session once the response is built, before it is sent.
SessionDep = Annotated[Session, Depends(get_db, scope="function", max_concurrency=POOL_CAPACITY)]


def dummy_hash() -> str:
    """A hash to verify against when no account matches, so timing does not reveal emails."""
    if not _dummy_hash:
        _dummy_hash.append(security.hash_password(hasher, "not a password"))
    return _dummy_hash[0]


def issue_token(user: User) -> str:
    """A fresh access token for the user, valid until their next password change or expiry."""
    return security.encode_token(user.id, SECRET_KEY, TOKEN_LIFETIME, version=user.token_version)


async def presented_token(
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> str | None:
    """The token of the Authorization header ("Token" or "Bearer", any case); None without one.

    `async`: parsing a header is not worth a thread-pool hop.
    """
    return security.token_from_header(authorization)


PresentedToken = Annotated[str | None, Depends(presented_token)]


async def reader_claims(token: PresentedToken) -> security.TokenClaims | None:
    """The claims of a validly signed token, None when anonymous; 401 for a malformed or expired
    one. No account lookup: for reads whose own statement checks the token's version
    (webapp.core.queries.READER_ROW)."""
    if token is None:
        return None
    try:
        return security.decode_token(token, SECRET_KEY)
    except security.InvalidTokenError as exc:
        raise Unauthorized("Token is invalid or expired.") from exc


ReaderClaims = Annotated[security.TokenClaims | None, Depends(reader_claims)]


async def required_claims(claims: ReaderClaims) -> security.TokenClaims:
    """As reader_claims, but a token is required: 401 without one."""
    if claims is None:
        raise Unauthorized("Authentication required.")
    return claims


RequiredClaims = Annotated[security.TokenClaims, Depends(required_claims)]


def caller(session: SessionDep, claims: ReaderClaims) -> User | None:
    """The account the token belongs to, looked up once per request (one statement); None
    without a token. 401 for a bad or expired token, a deleted account, or a token issued before
    the account's last password change."""
    if claims is None:
        return None
    user = session.get(User, claims.user_id)
    if user is None or user.token_version != claims.version:
        raise Unauthorized("Token is invalid or expired.")
    return user


Caller = Annotated[User | None, Depends(caller)]


async def reader_id(user: Caller) -> int | None:
    """The reader's id where auth is optional; a bad or revoked token is still 401."""
    return user.id if user is not None else None


ReaderId = Annotated[int | None, Depends(reader_id)]


async def current_user(user: Caller) -> User:
    """The caller's account; 401 without a valid token."""
    if user is None:
        raise Unauthorized("Authentication required.")
    return user


CurrentUser = Annotated[User, Depends(current_user)]


async def current_user_id(user: CurrentUser) -> int:
    """The caller's id."""
    return user.id


CurrentUserId = Annotated[int, Depends(current_user_id)]
