"""Registration, login and the current user's account."""

from __future__ import annotations

from typing import Any

from flask import Response
from sqlalchemy import or_

from .. import auth, security
from ..errors import Unauthorized, Unprocessable
from ..extensions import db
from ..models import User
from ..schemas import LoginRequest, RegisterRequest, UpdateUserRequest, UserResponse
from . import Blueprint

blp = Blueprint(
    "users",
    __name__,
    url_prefix="/api",
    tag="User and Authentication",
    description="Registration, login and the current user's account.",
)


def ensure_available(
    email: str | None, username: str | None, exclude_id: int | None = None
) -> None:
    """422 when another account already has this email or username (one query)."""
    conditions = []
    if email is not None:
        conditions.append(User.email == email)
    if username is not None:
        conditions.append(User.username == username)
    if not conditions:
        return
    stmt = db.select(User.email, User.username).where(or_(*conditions))
    if exclude_id is not None:
        stmt = stmt.where(User.id != exclude_id)
    for taken_email, taken_username in db.session.execute(stmt.limit(2)):
        if taken_email == email:
            raise Unprocessable("has already been taken", "email")
        if taken_username == username:
            raise Unprocessable("has already been taken", "username")


def end_read_transaction() -> None:
    """End the reads so far before hashing: no connection sits idle in a transaction for the
    hundreds of milliseconds argon2 takes (loaded rows stay usable: expire_on_commit=False)."""
    db.session.commit()


@blp.after_request
def no_store(response: Response) -> Response:
    """Every response here may carry a token: no browser or proxy may keep a copy."""
    response.headers["Cache-Control"] = "no-store"
    return response


@blp.post("/users")
@blp.arguments(RegisterRequest)
@blp.response(201, UserResponse)
@blp.errors(422, 429, 503)
def register(payload: dict[str, Any]) -> dict[str, User]:
    """Create an account and return it with a token."""
    data = payload["user"]
    hasher = auth.password_hasher()
    # A hashing slot first: a server at capacity sheds the request before any database work.
    with hasher.slot():
        ensure_available(data["email"], data["username"])
        end_read_transaction()
        password_hash = security.hash_password(hasher, data["password"])
    user = User(username=data["username"], email=data["email"], password_hash=password_hash)
    db.session.add(user)
    db.session.commit()
    return {"user": user}


@blp.post("/users/login")
@blp.arguments(LoginRequest)
@blp.response(200, UserResponse)
@blp.errors(401, 422, 429, 503)
def login(payload: dict[str, Any]) -> dict[str, User]:
    """Exchange email and password for a token; the same error whichever is wrong."""
    data = payload["user"]
    hasher = auth.password_hasher()
    # A hashing slot first: a server at capacity sheds the request before any database work.
    with hasher.slot():
        user = db.session.scalar(db.select(User).filter_by(email=data["email"]))
        end_read_transaction()
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
@blp.errors(401, 422, 429, 503)
@blp.token_auth()
def update_user(payload: dict[str, Any]) -> dict[str, User]:
    """Change any of the caller's fields; the token stays valid."""
    user = auth.require_user()
    data = payload["user"]
    # The caller's own row is excluded, so re-sending one's own email or username is no conflict.
    ensure_available(data.get("email"), data.get("username"), exclude_id=user.id)
    if "password" in data:
        end_read_transaction()
        user.password_hash = security.hash_password(auth.password_hasher(), data.pop("password"))
    for field in ("email", "username", "bio", "image"):
        if field in data:
            # bio and image are strings on the wire; null clears them.
            setattr(user, field, data[field] if data[field] is not None else "")
    db.session.commit()
    return {"user": user}
