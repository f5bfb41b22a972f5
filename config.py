"""Settings: each declared once with its type and default, read from the environment in one place.

A setting is an upper-case class attribute with a type annotation: `load()` replaces its default
with the environment variable of the same name (DATABASE_URL for SQLALCHEMY_DATABASE_URI), parsed
by that type, and says which variable is wrong when a value does not fit. Unannotated upper-case
attributes are fixed values that the environment cannot change.
"""

from __future__ import annotations

import os
import types
from collections.abc import Mapping
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

# Settings whose environment variable is named differently from the config key.
ENVIRONMENT_NAMES = {"SQLALCHEMY_DATABASE_URI": "DATABASE_URL"}

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


class SettingError(ValueError):
    """An environment variable holds a value its setting cannot take."""


class Config:
    """Settings for running the service; every annotated one can come from the environment."""

    APP_ENV: str = "development"
    SECRET_KEY: str | None = None
    # Outside production a missing SECRET_KEY is generated once and kept in this file.
    SECRET_KEY_FILE: str | None = None
    # Environment variable DATABASE_URL. Relative SQLite paths resolve inside the instance folder
    # (Flask-SQLAlchemy 3); "sqlite://" is one in-memory database shared by the process's threads.
    SQLALCHEMY_DATABASE_URI: str = "sqlite:///conduit.db"
    SQLALCHEMY_RECORD_QUERIES = False
    # Optional streaming replica for read-only requests (webapp/routing.py); unset, none is used.
    DATABASE_REPLICA_URL: str | None = None
    # Redis shared by app hosts for read-your-writes positions; unset, kept in each process.
    ROUTING_REDIS_URL: str | None = None
    JWT_LIFETIME_SECONDS: int = 7 * 24 * 3600
    MAX_CONTENT_LENGTH: int = 1024 * 1024
    LOG_LEVEL: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    # "text" (readable lines) or "json" (one object per line, for log shippers).
    LOG_FORMAT: Literal["text", "json"] = "text"
    # Browser origins allowed to call /api (flask-cors reads CORS_* keys); none by default.
    CORS_ORIGINS: list[str] = []
    # Reverse proxies in front of the app whose X-Forwarded-* headers are trusted (0: none).
    PROXY_COUNT: int = 0
    # argon2id cost (RFC 9106 "second recommended" profile by default).
    ARGON2_TIME_COST: int = 3
    ARGON2_MEMORY_COST: int = 64 * 1024
    ARGON2_PARALLELISM: int = 1
    # Hashes running at once per process (half the CPUs, at least 1), and how long a login,
    # registration or password change waits for a free slot before it is answered 503 (0: not
    # at all; a waiting request holds a request thread, which under a flood is what runs out).
    ARGON2_MAX_CONCURRENCY: int = max(1, (os.cpu_count() or 2) // 2)
    ARGON2_WAIT_MS: int = 0
    # Rate limits (Flask-Limiter strings, "; " between several; "" turns one off). Counted in
    # memory per process by default; a redis:// URL shares one budget between processes and hosts.
    RATELIMIT_ENABLED: bool = True
    RATELIMIT_STORAGE_URI: str = "memory://"
    RATELIMIT_LOGIN_PER_IP: str = "20 per minute; 200 per hour"
    # Failed logins only: the owner's successful logins never lock them out.
    RATELIMIT_LOGIN_PER_ACCOUNT: str = "5 per minute; 20 per hour"
    RATELIMIT_REGISTER_PER_IP: str = "5 per minute; 30 per hour"
    RATELIMIT_WRITES_PER_USER: str = "60 per minute; 1000 per hour"
    # Seconds a client is told to wait when the database is unavailable.
    RETRY_AFTER_SECONDS: int = 5

    # The engine (engine_options() turns these into SQLALCHEMY_ENGINE_OPTIONS).
    DB_POOL_SIZE: int = 5
    DB_MAX_OVERFLOW: int = 5
    DB_POOL_TIMEOUT: int = 5
    DB_POOL_RECYCLE: int = 1800
    DB_POOL_PRE_PING: bool = True
    DB_CONNECT_TIMEOUT: int = 3
    DB_STATEMENT_TIMEOUT_MS: int = 15000
    DB_TCP_USER_TIMEOUT_MS: int = 10000
    DB_PREPARED_STATEMENTS: bool = True
    SQLITE_BUSY_TIMEOUT: int = 15

    # flask-smorest / OpenAPI
    API_TITLE = "Conduit API"
    API_VERSION = "1.1.0"
    OPENAPI_VERSION = "3.1.0"
    OPENAPI_URL_PREFIX = "/api"
    OPENAPI_JSON_PATH = "openapi.json"
    API_SPEC_OPTIONS = {
        "info": {
            "description": (
                "The RealWorld Conduit API. Authenticate with `Authorization: Token <jwt>`; "
                'every error body is `{"errors": {"body": [...]}}`.'
            ),
        },
        # Relative: the document describes whichever host serves it.
        "servers": [{"url": "/"}],
    }
    # Swagger UI page at /api/docs; its assets are served by the app (webapp/api/docs.py), no CDN.
    OPENAPI_SWAGGER_UI_PATH = "docs"
    OPENAPI_SWAGGER_UI_URL = "/api/docs/assets/"

    # False: load() ignores the environment, so the class alone decides (see TestConfig).
    READ_ENVIRONMENT = True


class TestConfig(Config):
    """Settings for the test suite: cheap password hashing, the same whatever the shell exports."""

    READ_ENVIRONMENT = False
    APP_ENV = "testing"
    TESTING = True
    SECRET_KEY = "test-secret-key-that-is-long-enough-for-hs256"
    # tests/conftest.py points every app at TEST_DATABASE_URL or a throwaway SQLite file.
    SQLALCHEMY_DATABASE_URI = "sqlite://"
    DATABASE_REPLICA_URL = None
    ARGON2_TIME_COST = 1
    ARGON2_MEMORY_COST = 8
    ARGON2_PARALLELISM = 1
    # Room for the suite's concurrent requests; tests of the hashing bound set their own.
    ARGON2_MAX_CONCURRENCY = 16
    ARGON2_WAIT_MS = 5000
    # Tests that exercise the limits turn them on; the rest of the suite is not throttled.
    RATELIMIT_ENABLED = False
    RATELIMIT_STORAGE_URI = "memory://"


class ServerConfig:
    """The server process's settings, read by gunicorn.conf.py (and wsgi.py for the pool size)."""

    READ_ENVIRONMENT = True
    # Loopback by default: a reverse proxy (nginx) faces the network. HOST=0.0.0.0 in a container.
    HOST: str = "127.0.0.1"
    PORT: int = 8000
    WEB_CONCURRENCY: int = 2
    THREADS: int = 4
    GUNICORN_TIMEOUT: int = 30
    GUNICORN_GRACEFUL_TIMEOUT: int = 30
    GUNICORN_KEEPALIVE: int = 5
    # Connections one worker holds at once (gunicorn's worker_connections); unset: 2 x THREADS,
    # a request in each thread and one waiting. gunicorn's default (1,000) lets whichever worker
    # wakes first take nearly every connection a proxy opens and keep them (keep-alive): measured,
    # one worker then served all of 16 connections while the other idled, at half the throughput.
    GUNICORN_WORKER_CONNECTIONS: int | None = None
    # One line per request on stderr (with its request id and duration); off only where another
    # layer logs requests (the benchmark turns it off for every server alike).
    GUNICORN_ACCESS_LOG: bool = True
    # A worker's memory stays flat under load (78.6 MB after 6,600 requests, 78.7 MB after 52,000;
    # docs/benchmarks.md), so recycling is a safety net, not a need. Each recycle costs the new
    # worker ~10 ms on each statement's first request (compiling, new connections): at 1,000 that
    # was a worker every few seconds under load, in the p99.
    GUNICORN_MAX_REQUESTS: int = 10000
    GUNICORN_MAX_REQUESTS_JITTER: int = 1000


def load(
    config: type,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] = os.environ,
) -> dict[str, Any]:
    """All of a config class's settings: its defaults, then the environment, then overrides.

    Raises SettingError naming the variable when an environment value does not fit its type.
    For an app config, SQLALCHEMY_ENGINE_OPTIONS is derived from the result unless overridden.
    """
    values = {name: getattr(config, name) for name in dir(config) if name.isupper()}
    if values.get("READ_ENVIRONMENT", True):
        for name, kind in get_type_hints(config).items():
            variable = ENVIRONMENT_NAMES.get(name, name)
            if name.isupper() and variable in environ:
                values[name] = parse(variable, environ[variable], kind)
    values.update(overrides or {})
    if "SQLALCHEMY_DATABASE_URI" in values:
        url = values["SQLALCHEMY_DATABASE_URI"] = normalize_database_url(
            values["SQLALCHEMY_DATABASE_URI"]
        )
        values.setdefault("SQLALCHEMY_ENGINE_OPTIONS", engine_options(url, values))
    return values


def worker_pool(threads: int, environ: Mapping[str, str] = os.environ) -> dict[str, int]:
    """Pool settings for a server worker of `threads` request threads, as create_app overrides.

    Each request thread holds at most one connection, so a worker needs exactly `threads` of them
    and no overflow. DB_POOL_SIZE / DB_MAX_OVERFLOW set in the environment still win.
    """
    pool = {"DB_POOL_SIZE": threads, "DB_MAX_OVERFLOW": 0}
    return {name: value for name, value in pool.items() if name not in environ}


def parse(variable: str, raw: str, kind: Any) -> Any:
    """The text of an environment variable as a value of its setting's type."""
    text = raw.strip()
    if get_origin(kind) in (Union, types.UnionType) and type(None) in get_args(kind):
        if not text:
            return None
        (inner,) = (arg for arg in get_args(kind) if arg is not type(None))
        return parse(variable, raw, inner)
    if get_origin(kind) is Literal:
        for choice in get_args(kind):
            if text.lower() == str(choice).lower():
                return choice
        choices = ", ".join(str(choice) for choice in get_args(kind))
        raise SettingError(f"{variable} must be one of {choices}, not {raw!r}")
    if kind is bool:
        if text.lower() in _TRUE | _FALSE:
            return text.lower() in _TRUE
        raise SettingError(f"{variable} must be true or false (1/0, yes/no, on/off), not {raw!r}")
    if kind is int:
        try:
            number = int(text)
        except ValueError:
            raise SettingError(f"{variable} must be a whole number, not {raw!r}") from None
        if number < 0:
            raise SettingError(f"{variable} must be 0 or more, not {number}")
        return number
    if kind is str:
        return raw
    if kind == list[str]:
        return [item.strip() for item in raw.split(",") if item.strip()]
    raise TypeError(f"no parser for {variable}'s type {kind!r}")


def normalize_database_url(url: str) -> str:
    """Point bare PostgreSQL URLs at the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def is_sqlite_in_memory(url: str) -> bool:
    """Whether the URL names an in-memory SQLite database (sqlite://, sqlite:///:memory:)."""
    parsed = make_url(url)
    return parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")


def engine_options(url: str, settings: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Engine keyword arguments for a database URL from the DB_* settings (Config's by default)."""
    s = load(Config, environ={}) if settings is None else settings
    # Errors and logs show the SQL but never its values (emails, password hashes).
    options: dict[str, Any] = {"hide_parameters": True}
    if is_sqlite_in_memory(url):
        # One connection for the whole process: each new one would be a new, empty database.
        # No recycling or pinging (either would swap in a fresh, empty one), no pool sizes.
        options["poolclass"] = StaticPool
        options["connect_args"] = {"check_same_thread": False}
        return options
    options.update(
        pool_pre_ping=s["DB_POOL_PRE_PING"],
        pool_recycle=s["DB_POOL_RECYCLE"],
        pool_timeout=s["DB_POOL_TIMEOUT"],
        pool_size=s["DB_POOL_SIZE"],
        max_overflow=s["DB_MAX_OVERFLOW"],
    )
    if url.startswith("sqlite"):
        # Writers wait for the file lock instead of failing at once.
        options["connect_args"] = {"timeout": s["SQLITE_BUSY_TIMEOUT"]}
    elif url.startswith("postgresql"):
        options["connect_args"] = {
            # An unreachable server fails the request fast (503) instead of hanging it.
            "connect_timeout": s["DB_CONNECT_TIMEOUT"],
            "options": f"-c statement_timeout={s['DB_STATEMENT_TIMEOUT_MS']}",
            # A peer that stops acknowledging (host gone, network cut) breaks the connection
            # after this long instead of leaving a worker thread blocked on it for minutes.
            "tcp_user_timeout": s["DB_TCP_USER_TIMEOUT_MS"],
        }
        if not s["DB_PREPARED_STATEMENTS"]:
            # PgBouncer in transaction mode: psycopg 3 must not prepare statements.
            options["connect_args"]["prepare_threshold"] = None
    return options
