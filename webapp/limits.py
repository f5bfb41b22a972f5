"""Abuse limits: rate limits (Flask-Limiter) on logins, registrations and writes, and the answers
a client gets when a limit or the password hashing capacity is reached."""

from __future__ import annotations

import hashlib
import logging
import math
import time
import unicodedata
from typing import Any

from flask import Flask, Response, current_app, request
from flask_limiter import ApplicationLimit, Limiter, RateLimitExceeded
from limits import parse_many

from webapp.core import security

from . import auth
from .api import users
from .errors import APIError, error_response

log = logging.getLogger(__name__)

# Endpoint names ("<blueprint>.<view>"), from the views themselves so a rename can't skip a limit.
LOGIN = f"{users.blp.name}.{users.login.__name__}"
REGISTER = f"{users.blp.name}.{users.register.__name__}"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
LIMIT_SETTINGS = (
    "RATELIMIT_LOGIN_PER_IP",
    "RATELIMIT_LOGIN_PER_ACCOUNT",
    "RATELIMIT_REGISTER_PER_IP",
    "RATELIMIT_WRITES_PER_USER",
)
# Hashing slots free up within one hash (a few hundred milliseconds).
BUSY_RETRY_AFTER_SECONDS = 1
# A dead Redis must not hang requests: fail over to per-process counting quickly.
# Any: Flask-Limiter types the options as str | int, redis takes float timeouts.
REDIS_OPTIONS: dict[str, Any] = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}


def client_address() -> str:
    """The caller's address; behind PROXY_COUNT proxies, ProxyFix has already taken it from
    X-Forwarded-For, trusting only that many hops."""
    return request.remote_addr or "unknown"


def account_key() -> str:
    """The account a login names, normalised as emails are stored and hashed, so neither case
    nor Unicode look-alikes split its budget and no email is written to the limit storage."""
    body = request.get_json(silent=True)
    user = body.get("user") if isinstance(body, dict) else None
    email = user.get("email") if isinstance(user, dict) else None
    if not isinstance(email, str) or not email.strip():
        return ""
    normalized = unicodedata.normalize("NFKC", email).strip().lower()
    return hashlib.sha256(normalized.encode("utf-8", "surrogatepass")).hexdigest()


def writer_key() -> str:
    """The caller's user id, as auth resolves it from the token ("" when anonymous)."""
    try:
        user_id = auth.reader_id()
    except APIError:
        return ""  # a bad token: the view answers 401 itself, nothing to count
    return "" if user_id is None else f"user:{user_id}"


def _only(endpoint: str) -> bool:
    """Exempt every request except those to this endpoint."""
    return request.endpoint != endpoint


def _failed_login(response: Response) -> bool:
    """Only wrong credentials spend an account's budget."""
    return response.status_code == 401


def _not_a_login_with_an_email() -> bool:
    return _only(LOGIN) or not account_key()


def _not_an_authenticated_write() -> bool:
    return (
        request.method not in WRITE_METHODS
        or request.endpoint in {LOGIN, REGISTER}
        or not writer_key()
    )


class WriteLimiter(Limiter):
    """Flask-Limiter for limits that are all on writes: every limit here is on a login, a
    registration or a write, so a read (GET, HEAD, OPTIONS) returns before any is resolved."""

    def _check_request_limit(
        self, callable_name: str | None = None, in_middleware: bool = True
    ) -> None:
        # Flask-Limiter's before-request check. Even with a request filter that exempts reads,
        # it resolves and scopes the app's limits first: about 3% of a read's CPU.
        if request.method not in WRITE_METHODS:
            return
        super()._check_request_limit(callable_name, in_middleware)


def build_limiter(config: dict[str, Any]) -> WriteLimiter:
    """The app's limits, read from its config; a malformed limit string fails here, at startup."""
    for name in LIMIT_SETTINGS:
        try:
            parse_many(config[name] or "1 per second")  # "" switches that limit off
        except ValueError as exc:
            raise ValueError(f"{name}={config[name]!r} is not a rate limit: {exc}") from exc
    storage_uri = config["RATELIMIT_STORAGE_URI"]
    return WriteLimiter(
        client_address,
        application_limits=[
            ApplicationLimit(
                config["RATELIMIT_LOGIN_PER_IP"],
                key_function=client_address,
                scope="login-ip",
                exempt_when=lambda: _only(LOGIN),
                error_message="Too many login attempts from this address; try again later.",
            ),
            ApplicationLimit(
                config["RATELIMIT_LOGIN_PER_ACCOUNT"],
                key_function=account_key,
                scope="login-account",
                exempt_when=_not_a_login_with_an_email,
                deduct_when=_failed_login,
                error_message="Too many failed logins for this account; try again later.",
            ),
            ApplicationLimit(
                config["RATELIMIT_REGISTER_PER_IP"],
                key_function=client_address,
                scope="register-ip",
                exempt_when=lambda: _only(REGISTER),
                error_message="Too many registrations from this address; try again later.",
            ),
            ApplicationLimit(
                config["RATELIMIT_WRITES_PER_USER"],
                key_function=writer_key,
                scope="writes",
                exempt_when=_not_an_authenticated_write,
                error_message="Too many changes; slow down and try again later.",
            ),
        ],
        storage_uri=storage_uri,
        storage_options=REDIS_OPTIONS if storage_uri.startswith(("redis", "rediss")) else {},
        strategy="fixed-window",
        # Storage trouble never turns a request into a 500: count in memory until it is back.
        in_memory_fallback_enabled=True,
        swallow_errors=True,
        enabled=config["RATELIMIT_ENABLED"],
    )


def retry_after_seconds(limiter: Limiter, error: RateLimitExceeded) -> int:
    """Seconds until the breached limit's window resets (its full length if storage can't say)."""
    breached = limiter.current_limit
    try:
        if breached is not None:
            return max(1, math.ceil(breached.window.reset_time - time.time()))
    except Exception:  # storage gone between the check and now; the window length is an upper bound
        log.warning("rate limit storage unavailable for Retry-After", exc_info=True)
    return max(1, math.ceil(error.limit.limit.get_expiry()))


def handle_rate_limited(error: RateLimitExceeded) -> tuple[Response, int, dict[str, str]]:
    """A rate limit was reached: 429 in the error shape, with Retry-After."""
    limiter = current_app.extensions["rate_limiter"]
    log.info("rate limited: %s %s (%s)", request.method, request.path, error.limit.limit)
    headers = {"Retry-After": str(retry_after_seconds(limiter, error))}
    return error_response(429, {"body": [error.description]}, headers)


def handle_hashing_busy(error: security.HashingBusy) -> tuple[Response, int, dict[str, str]]:
    """Every password hashing slot is busy: 503 at once, rather than queuing on a request thread."""
    log.info("password hashing at capacity: %s %s", request.method, request.path)
    return error_response(
        503,
        {"body": ["The server is busy; try again shortly."]},
        {"Retry-After": str(BUSY_RETRY_AFTER_SECONDS)},
    )


def init_app(app: Flask) -> None:
    """Bind the rate limits to the app and render what they (and busy hashing) answer."""
    limiter = build_limiter(app.config)
    limiter.init_app(app)
    app.extensions["rate_limiter"] = limiter
    app.register_error_handler(RateLimitExceeded, handle_rate_limited)
    app.register_error_handler(security.HashingBusy, handle_hashing_busy)
