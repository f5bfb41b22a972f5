"""Dependencies resolved once per request: the session, the reader and the caller."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Header
from sqlalchemy.orm import Session

from conduit_core import security
from conduit_core.errors import Unauthorized
from conduit_core.models import User

from .database import POOL_CAPACITY, get_db
from .settings import settings

SCHEME = "Token"
SECRET_KEY = settings.signing_key()
TOKEN_LIFETIME = timedelta(seconds=settings.jwt_lifetime_seconds)
hasher = security.make_hasher(
    settings.argon2_time_cost, settings.argon2_memory_cost, settings.argon2_parallelism
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
    """A fresh access token for the user."""
    return security.encode_token(user.id, SECRET_KEY, TOKEN_LIFETIME)


async def token_user_id(
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> int | None:
    """The user id of the request's token; None without an Authorization header.

    `async`: a signature check is CPU work of microseconds, not worth a thread-pool hop.
    """
    if authorization is None:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme != SCHEME or not token.strip():
        raise Unauthorized("Authorization header must be 'Token <jwt>'.")
    try:
        return security.decode_token(token.strip(), SECRET_KEY)
    except security.InvalidTokenError as exc:
        raise Unauthorized("Token is invalid or expired.") from exc


ReaderId = Annotated[int | None, Depends(token_user_id)]


async def require_user_id(user_id: ReaderId) -> int:
    """The caller's id from a valid token, without loading the account."""
    if user_id is None:
        raise Unauthorized("Authentication required.")
    return user_id


CurrentUserId = Annotated[int, Depends(require_user_id)]


def current_user(session: SessionDep, user_id: CurrentUserId) -> User:
    """The caller's account (one query per request); 401 without a valid token."""
    user = session.get(User, user_id)
    if user is None:
        raise Unauthorized("Token is invalid or expired.")
    return user


CurrentUser = Annotated[User, Depends(current_user)]
