"""Registration, login and the current user's account."""

from __future__ import annotations

from typing import Any

from conduit_core import security
from conduit_core.models import User
from conduit_core.queries import ensure_available

from .. import auth
from ..errors import Unauthorized
from ..extensions import db
from ..schemas import LoginRequest, RegisterRequest, UpdateUserRequest, UserResponse
from . import Blueprint

blp = Blueprint(
    "users",
    __name__,
    url_prefix="/api",
    tag="User and Authentication",
    description="Registration, login and the current user's account.",
)


@blp.post("/users")
@blp.arguments(RegisterRequest)
@blp.response(201, UserResponse)
@blp.errors(422)
def register(payload: dict[str, Any]) -> dict[str, User]:
    """Create an account and return it with a token."""
    data = payload["user"]
    ensure_available(db.session, data["email"], data["username"])
    user = User(
        username=data["username"],
        email=data["email"],
        password_hash=security.hash_password(auth.password_hasher(), data["password"]),
    )
    db.session.add(user)
    db.session.commit()
    return {"user": user}


@blp.post("/users/login")
@blp.arguments(LoginRequest)
@blp.response(200, UserResponse)
@blp.errors(401, 422)
def login(payload: dict[str, Any]) -> dict[str, User]:
    """Exchange email and password for a token; the same error whichever is wrong."""
    data = payload["user"]
    hasher = auth.password_hasher()
    user = db.session.scalar(db.select(User).filter_by(email=data["email"]))
    stored = user.password_hash if user is not None else auth.dummy_hash()
    if not security.verify_password(hasher, stored, data["password"]) or user is None:
        raise Unauthorized("email or password is invalid")
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = security.hash_password(hasher, data["password"])
        db.session.commit()
    return {"user": user}


@blp.get("/user")
@blp.response(200, UserResponse)
@blp.errors(401)
@blp.token_auth()
def current_user() -> dict[str, User]:
    """The caller's account."""
    return {"user": auth.require_user()}


@blp.put("/user")
@blp.arguments(UpdateUserRequest)
@blp.response(200, UserResponse)
@blp.errors(401, 422)
@blp.token_auth()
def update_user(payload: dict[str, Any]) -> dict[str, User]:
    """Change any of the caller's fields; the token stays valid."""
    user = auth.require_user()
    data = payload["user"]
    # The caller's own row is excluded, so re-sending one's own email or username is no conflict.
    ensure_available(db.session, data.get("email"), data.get("username"), exclude_id=user.id)
    if "password" in data:
        user.password_hash = security.hash_password(auth.password_hasher(), data.pop("password"))
    for field in ("email", "username", "bio", "image"):
        if field in data:
            # bio and image are strings on the wire; null clears them.
            setattr(user, field, data[field] if data[field] is not None else "")
    db.session.commit()
    return {"user": user}
