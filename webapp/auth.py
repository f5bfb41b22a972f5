"""Who is calling: reads "Authorization: Token <jwt>" and resolves the caller's account once per
request, which is where revoked tokens and deleted accounts are turned away."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask, current_app, g, request

from webapp.core import security
from webapp.core.models import User

from .errors import Unauthorized
from .extensions import db


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
    hasher: security.BoundedPasswordHasher = current_app.extensions["password_hasher"]
    return hasher


def dummy_hash() -> str:
    """A hash to verify against when no account matches, so timing does not reveal emails."""
    ext = current_app.extensions
    if "dummy_password_hash" not in ext:
        ext["dummy_password_hash"] = security.hash_password(password_hasher(), "not a password")
    stored: str = ext["dummy_password_hash"]
    return stored


def issue_token(user: User) -> str:
    """A fresh access token for the user, valid until their next password change or expiry."""
    lifetime = timedelta(seconds=current_app.config["JWT_LIFETIME_SECONDS"])
    return security.encode_token(
        user.id, current_app.config["SECRET_KEY"], lifetime, version=user.token_version
    )


def _presented_token() -> str | None:
    """The token of the request's Authorization header; None without the header."""
    return security.token_from_header(request.headers.get("Authorization"))


def _claims() -> security.TokenClaims | None:
    """The verified claims of the request's token, decoded once per request; None without a
    token. 401 when the header or the token is malformed, expired or not ours."""
    if "claims" in g:
        cached: security.TokenClaims | None = g.claims
        return cached
    token = _presented_token()
    claims = None
    if token is not None:
        try:
            claims = security.decode_token(token, current_app.config["SECRET_KEY"])
        except security.InvalidTokenError as exc:
            raise Unauthorized("Token is invalid or expired.") from exc
        g.token = token
    g.claims = claims
    return claims


def reader_claims() -> security.TokenClaims | None:
    """The claims of a validly signed token, None when anonymous; 401 for a malformed or expired
    token. No account lookup: for reads whose own statement checks the token's version
    (webapp.core.queries.READER_ROW)."""
    return _claims()


def required_claims() -> security.TokenClaims:
    """As reader_claims, but a token is required: 401 without one."""
    claims = _claims()
    if claims is None:
        raise Unauthorized("Authentication required.")
    return claims


def claimed_user_id() -> int | None:
    """The user id a validly signed token names, without looking the account up: for choosing a
    database (webapp/routing.py) before any statement runs, never for access control."""
    try:
        claims = _claims()
    except Unauthorized:
        return None
    return claims.user_id if claims is not None else None


def _caller() -> User | None:
    """The account the request's token belongs to, looked up once per request (one statement).

    None without a token. 401 when the token is malformed, expired or not ours, when its account
    no longer exists, or when it was issued before the account's last password change.
    """
    if "caller" in g:
        cached: User | None = g.caller
        return cached
    claims = _claims()
    user = None
    if claims is not None:
        user = db.session.get(User, claims.user_id)
        if user is None or user.token_version != claims.version:
            raise Unauthorized("Token is invalid or expired.")
    g.caller = user
    return user


def reader_id() -> int | None:
    """The reader's id for endpoints where auth is optional; a bad or revoked token is still 401."""
    user = _caller()
    return user.id if user is not None else None


def require_user_id() -> int:
    """The caller's id from a valid, unrevoked token."""
    return require_user().id


def require_user() -> User:
    """The caller's account (one statement, once per request); 401 without a valid token."""
    user = _caller()
    if user is None:
        raise Unauthorized("Authentication required.")
    return user


def current_token() -> str:
    """The token the authenticated caller presented (GET /api/user hands it back unchanged)."""
    require_user()
    token: str = g.token
    return token
