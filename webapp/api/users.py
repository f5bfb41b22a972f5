"""Registration, login and the current user's account."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Response

from webapp.core import security
from webapp.core.database import end_reads
from webapp.core.models import User
from webapp.core.queries import ensure_available

from .. import auth
from ..errors import Unauthorized
from ..extensions import db
from ..schemas import LoginRequest, RegisterRequest, UpdateUserRequest, UserResponse
from . import Blueprint

blp = Blueprint(
    "User and Authentication",
    __name__,
    url_prefix="/api",
    description="Registration, login and the current user's account.",
)


@dataclass(frozen=True, slots=True)
class Account:
    """The caller's account as UserSchema dumps it, with the token to use from now on."""

    email: str
    token: str
    username: str
    bio: str
    image: str

    @classmethod
    def of(cls, user: User, token: str) -> Account:
        """The account of the user, carrying this token."""
        return cls(user.email, token, user.username, user.bio, user.image)


@blp.after_request
def no_store(response: Response) -> Response:
    """Every response here may carry a token: no browser or proxy may keep a copy."""
    response.headers["Cache-Control"] = "no-store"
    return response


@blp.post("/users")
@blp.arguments(RegisterRequest)
@blp.response(201, UserResponse)
@blp.errors(422, 429, 503)
def register(payload: dict[str, Any]) -> dict[str, Account]:
    """Create an account and return it with a token."""
    data = payload["user"]
    hasher = auth.password_hasher()
    # A hashing slot first: a server at capacity sheds the request before any database work.
    with hasher.slot():
        ensure_available(db.session, data["email"], data["username"])
        end_reads(db.session)
        password_hash = security.hash_password(hasher, data["password"])
    user = User(username=data["username"], email=data["email"], password_hash=password_hash)
    db.session.add(user)
    db.session.commit()
    return {"user": Account.of(user, auth.issue_token(user))}


@blp.post("/users/login")
@blp.arguments(LoginRequest)
@blp.response(200, UserResponse)
@blp.errors(401, 422, 429, 503)
def login(payload: dict[str, Any]) -> dict[str, Account]:
    """Exchange email and password for a token; the same error whichever is wrong."""
    data = payload["user"]
    hasher = auth.password_hasher()
    # A hashing slot first: a server at capacity sheds the request before any database work.
    with hasher.slot():
        user = db.session.scalar(db.select(User).filter_by(email=data["email"]))
        end_reads(db.session)
        stored = user.password_hash if user is not None else auth.dummy_hash()
        if not security.verify_password(hasher, stored, data["password"]) or user is None:
            raise Unauthorized("email or password is invalid")
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = security.hash_password(hasher, data["password"])
        db.session.commit()
    return {"user": Account.of(user, auth.issue_token(user))}


@blp.get("/user")
@blp.token_auth()
@blp.response(200, UserResponse)
def current_user(user: User) -> dict[str, Account]:
    """The caller's account, with the token it presented (no new lifetime is minted)."""
    return {"user": Account.of(user, auth.current_token())}


@blp.put("/user")
@blp.token_auth()
@blp.arguments(UpdateUserRequest)
@blp.response(200, UserResponse)
@blp.errors(422, 429, 503)
def update_user(user: User, payload: dict[str, Any]) -> dict[str, Account]:
    """Change any of the caller's fields (a blank password is no change). A new password revokes
    every earlier token and the response carries a fresh one; otherwise the presented token
    stays valid and comes back."""
    token = auth.current_token()
    data = payload["user"]
    # The caller's own row is excluded, so re-sending one's own email or username is no conflict.
    ensure_available(db.session, data.get("email"), data.get("username"), exclude_id=user.id)
    password = data.pop("password", None)
    if password is not None:
        end_reads(db.session)
        user.password_hash = security.hash_password(auth.password_hasher(), password)
        # Incremented in SQL, so each of two concurrent password changes revokes the other's token.
        user.token_version = User.token_version + 1
    for field in ("email", "username", "bio", "image"):
        if field in data:
            # bio and image are strings on the wire; null clears them.
            setattr(user, field, data[field] if data[field] is not None else "")
    if password is not None:
        # The new version is read back inside this transaction, which holds the row's write
        # lock, so it is this change's version and not a later one's.
        db.session.flush()
        token = auth.issue_token(user)
    db.session.commit()
    return {"user": Account.of(user, token)}
