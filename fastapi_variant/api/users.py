"""Registration, login and the current user's account."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from conduit_core import security
from conduit_core.errors import Unauthorized
from conduit_core.models import User
from conduit_core.queries import ensure_available

from ..deps import CurrentUser, SessionDep, dummy_hash, hasher, issue_token
from ..schemas import LoginUser, NewUser, UpdateUser, UserEnvelope, UserOut

router = APIRouter(tags=["User and Authentication"])


def _user(user: User) -> UserEnvelope[UserOut]:
    """The account with a fresh token."""
    out = UserOut(
        email=user.email,
        token=issue_token(user),
        username=user.username,
        bio=user.bio,
        image=user.image,
    )
    return UserEnvelope[UserOut](user=out)


@router.post("/users", status_code=201)
def register(payload: UserEnvelope[NewUser], session: SessionDep) -> UserEnvelope[UserOut]:
    """Create an account and return it with a token."""
    data = payload.user
    ensure_available(session, data.email, data.username)
    user = User(
        username=data.username,
        email=data.email,
        password_hash=security.hash_password(hasher, data.password),
    )
    session.add(user)
    session.commit()
    return _user(user)


@router.post("/users/login")
def login(payload: UserEnvelope[LoginUser], session: SessionDep) -> UserEnvelope[UserOut]:
    """Exchange email and password for a token; the same error whichever is wrong."""
    data = payload.user
    user = session.scalar(select(User).filter_by(email=data.email))
    stored = user.password_hash if user is not None else dummy_hash()
    if not security.verify_password(hasher, stored, data.password) or user is None:
        raise Unauthorized("email or password is invalid")
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = security.hash_password(hasher, data.password)
        session.commit()
    return _user(user)


@router.get("/user")
def current_user(user: CurrentUser) -> UserEnvelope[UserOut]:
    """The caller's account."""
    return _user(user)


@router.put("/user")
def update_user(
    payload: UserEnvelope[UpdateUser], user: CurrentUser, session: SessionDep
) -> UserEnvelope[UserOut]:
    """Change any of the caller's fields; the token stays valid."""
    data = payload.user
    given = data.model_fields_set
    # The caller's own row is excluded, so re-sending one's own email or username is no conflict.
    ensure_available(session, data.email, data.username, exclude_id=user.id)
    if data.password is not None:
        user.password_hash = security.hash_password(hasher, data.password)
    if data.email is not None:
        user.email = data.email
    if data.username is not None:
        user.username = data.username
    # bio and image are strings on the wire; null clears them.
    if "bio" in given:
        user.bio = data.bio or ""
    if "image" in given:
        user.image = data.image or ""
    session.commit()
    return _user(user)
