"""Who is calling: reads "Authorization: Token <jwt>" and resolves the reader once per request."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask, current_app, g, request

from . import security
from .errors import Unauthorized
from .extensions import db
from .models import User

SCHEME = "Token"


def init_app(app: Flask) -> None:
    """Build the password hasher from the configured argon2 cost and concurrency."""
    app.extensions["password_hasher"] = security.make_hasher(
        app.config["ARGON2_TIME_COST"],
        app.config["ARGON2_MEMORY_COST"],
        app.config["ARGON2_PARALLELISM"],
        app.config["ARGON2_MAX_CONCURRENCY"],
        app.config["ARGON2_WAIT_MS"] / 1000,
    )


def password_hasher() -> security.BoundedPasswordHasher:
    """The app's argon2id hasher."""
    return current_app.extensions["password_hasher"]


def dummy_hash() -> str:
    """A hash to verify against when no account matches, so timing does not reveal emails."""
    ext = current_app.extensions
    if "dummy_password_hash" not in ext:
        ext["dummy_password_hash"] = security.hash_password(password_hasher(), "not a password")
    return ext["dummy_password_hash"]


def issue_token(user: User) -> str:
    """A fresh access token for the user."""
    lifetime = timedelta(seconds=current_app.config["JWT_LIFETIME_SECONDS"])
    return security.encode_token(user.id, current_app.config["SECRET_KEY"], lifetime)


def _token_user_id() -> int | None:
    """The user id of the request's token; None without an Authorization header."""
    if "token_user_id" in g:
        return g.token_user_id
    header = request.headers.get("Authorization")
    user_id = None
    if header is not None:
        scheme, _, token = header.strip().partition(" ")
        if scheme != SCHEME or not token.strip():
            raise Unauthorized("Authorization header must be 'Token <jwt>'.")
        try:
            user_id = security.decode_token(token.strip(), current_app.config["SECRET_KEY"])
        except security.InvalidTokenError as exc:
            raise Unauthorized("Token is invalid or expired.") from exc
    g.token_user_id = user_id
    return user_id


def reader_id() -> int | None:
    """The reader's id for endpoints where auth is optional; a bad token is still 401."""
    return _token_user_id()


def require_user_id() -> int:
    """The caller's id from a valid token, without loading the account."""
    user_id = _token_user_id()
    if user_id is None:
        raise Unauthorized("Authentication required.")
    return user_id


def require_user() -> User:
    """The caller's account (one query, cached for the request); 401 without a valid token."""
    if "current_user" not in g:
        user = db.session.get(User, require_user_id())
        if user is None:
            raise Unauthorized("Token is invalid or expired.")
        g.current_user = user
    return g.current_user
