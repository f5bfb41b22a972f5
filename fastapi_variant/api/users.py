"""Registration, login and the current user's account."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from webapp.core import security
from webapp.core.database import end_reads
from webapp.core.errors import Unauthorized
from webapp.core.models import User
from webapp.core.queries import ensure_available

from ..deps import CurrentUser, PresentedToken, SessionDep, dummy_hash, hasher, issue_token
from ..routing import SafeRoute
from ..schemas import LoginUser, NewUser, UpdateUser, UserEnvelope, UserOut

router = APIRouter(tags=["User and Authentication"], route_class=SafeRoute)


def _user(user: User, token: str) -> UserEnvelope[UserOut]:
    """The account, carrying the token to use from now on."""
    out = UserOut(
        email=user.email,
        token=token,
        username=user.username,
        bio=user.bio,
        image=user.image,
    )
    return UserEnvelope[UserOut](user=out)


@router.post("/users", status_code=201)
def register(payload: UserEnvelope[NewUser], session: SessionDep) -> UserEnvelope[UserOut]:
    """Create an account and return it with a token."""
    data = payload.user
    # A hashing slot first: a server at capacity sheds the request before any database work.
    with hasher.slot():
        ensure_available(session, data.email, data.username)
        end_reads(session)
        password_hash = security.hash_password(hasher, data.password)
    user = User(username=data.username, email=data.email, password_hash=password_hash)
    session.add(user)
    session.commit()
    return _user(user, issue_token(user))


@router.post("/users/login")
def login(payload: UserEnvelope[LoginUser], session: SessionDep) -> UserEnvelope[UserOut]:
    """Exchange email and password for a token; the same error whichever is wrong."""
    data = payload.user
    # A hashing slot first: a server at capacity sheds the request before any database work.
    with hasher.slot():
        user = session.scalar(select(User).filter_by(email=data.email))
        end_reads(session)
        stored = user.password_hash if user is not None else dummy_hash()
        if not security.verify_password(hasher, stored, data.password) or user is None:
            raise Unauthorized("email or password is invalid")
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = security.hash_password(hasher, data.password)
        session.commit()
    return _user(user, issue_token(user))


@router.get("/user")
def current_user(user: CurrentUser, token: PresentedToken) -> UserEnvelope[UserOut]:
    """The caller's account, with the token it presented (no new lifetime is minted)."""
    assert token is not None  # CurrentUser had a token to resolve
    return _user(user, token)


@router.put("/user")
def update_user(
    user: CurrentUser, token: PresentedToken, payload: UserEnvelope[UpdateUser], session: SessionDep
) -> UserEnvelope[UserOut]:
    """Change any of the caller's fields (a blank password is no change). A new password revokes
    every earlier token and the response carries a fresh one; otherwise the presented token
    stays valid and comes back."""
    assert token is not None  # CurrentUser had a token to resolve
    data = payload.user
    given = data.model_fields_set
    # The caller's own row is excluded, so re-sending one's own email or username is no conflict.
    ensure_available(session, data.email, data.username, exclude_id=user.id)
    if data.password is not None:
        end_reads(session)
        user.password_hash = security.hash_password(hasher, data.password)
        # Incremented in SQL, so each of two concurrent password changes revokes the other's token.
        user.token_version = User.token_version + 1
    if data.email is not None:
        user.email = data.email
    if data.username is not None:
        user.username = data.username
    # bio and image are strings on the wire; null clears them.
    if "bio" in given:
        user.bio = data.bio or ""
    if "image" in given:
        user.image = data.image or ""
    if data.password is not None:
        # Read back inside this transaction, which holds the row's write lock: this change's
        # version, not a later one's.
        session.flush()
        token = issue_token(user)
    session.commit()
    return _user(user, token)
