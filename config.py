"""Application settings, read from the environment."""

from __future__ import annotations

import os
from typing import Any


def _int(name: str, default: int) -> int:
    """An integer environment variable, or its default."""
    return int(os.environ.get(name, default))


def _bool(name: str, default: bool) -> bool:
    """A boolean environment variable ("1", "true", "yes", "on" are true), or its default."""
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _list(name: str, default: str = "") -> list[str]:
    """A comma-separated environment variable as a list of non-empty, stripped items."""
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def normalize_database_url(url: str) -> str:
    """Point bare PostgreSQL URLs at the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def engine_options(url: str) -> dict[str, Any]:
    """Engine keyword arguments for a database URL: pool sizing and timeouts."""
    options: dict[str, Any] = {
        "pool_pre_ping": _bool("DB_POOL_PRE_PING", True),
        "pool_recycle": _int("DB_POOL_RECYCLE", 1800),
        "pool_timeout": _int("DB_POOL_TIMEOUT", 5),
        "pool_size": _int("DB_POOL_SIZE", 5),
        "max_overflow": _int("DB_MAX_OVERFLOW", 5),
        # Errors and logs show the SQL but never its values (emails, password hashes).
        "hide_parameters": True,
    }
    if url.startswith("sqlite"):
        # Writers wait for the file lock instead of failing at once.
        options["connect_args"] = {"timeout": _int("SQLITE_BUSY_TIMEOUT", 15)}
    elif url.startswith("postgresql"):
        options["connect_args"] = {
            # An unreachable server fails the request fast (503) instead of hanging it.
            "connect_timeout": _int("DB_CONNECT_TIMEOUT", 3),
            "options": f"-c statement_timeout={_int('DB_STATEMENT_TIMEOUT_MS', 15000)}",
            # A peer that stops acknowledging (host gone, network cut) breaks the connection
            # after this long instead of leaving a worker thread blocked on it for minutes.
            "tcp_user_timeout": _int("DB_TCP_USER_TIMEOUT_MS", 10000),
        }
        if not _bool("DB_PREPARED_STATEMENTS", True):
            # PgBouncer in transaction mode: psycopg 3 must not prepare statements.
            options["connect_args"]["prepare_threshold"] = None
    return options


class Config:
    """Settings for running the service; every value can come from the environment."""

    APP_ENV = os.environ.get("APP_ENV", "development")
    SECRET_KEY = os.environ.get("SECRET_KEY")
    # Outside production a missing SECRET_KEY is generated once and kept in this file.
    SECRET_KEY_FILE = os.environ.get("SECRET_KEY_FILE")
    # Relative SQLite paths resolve inside the instance folder (Flask-SQLAlchemy 3).
    SQLALCHEMY_DATABASE_URI = normalize_database_url(
        os.environ.get("DATABASE_URL", "sqlite:///conduit.db")
    )
    SQLALCHEMY_RECORD_QUERIES = False
    # Optional streaming replica for read-only requests (webapp/routing.py); unset, none is used.
    DATABASE_REPLICA_URL = (
        normalize_database_url(os.environ.get("DATABASE_REPLICA_URL") or "") or None
    )
    # Redis shared by app hosts for read-your-writes positions; unset, kept in each process.
    ROUTING_REDIS_URL = os.environ.get("ROUTING_REDIS_URL") or None
    JWT_LIFETIME_SECONDS = _int("JWT_LIFETIME_SECONDS", 7 * 24 * 3600)
    MAX_CONTENT_LENGTH = _int("MAX_CONTENT_LENGTH", 1024 * 1024)
    LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO").upper()
    # "text" (readable lines) or "json" (one object per line, for log shippers).
    LOG_FORMAT = os.environ.get("LOG_FORMAT", "text").lower()
    # Browser origins allowed to call /api (flask-cors reads CORS_* keys); none by default.
    CORS_ORIGINS = _list("CORS_ORIGINS")
    # Reverse proxies in front of the app whose X-Forwarded-* headers are trusted (0: none).
    PROXY_COUNT = _int("PROXY_COUNT", 0)
    # argon2id cost (RFC 9106 "second recommended" profile by default).
    ARGON2_TIME_COST = _int("ARGON2_TIME_COST", 3)
    ARGON2_MEMORY_COST = _int("ARGON2_MEMORY_COST", 64 * 1024)
    ARGON2_PARALLELISM = _int("ARGON2_PARALLELISM", 1)
    # Seconds a client is told to wait when the database is unavailable.
    RETRY_AFTER_SECONDS = _int("RETRY_AFTER_SECONDS", 5)

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


class TestConfig(Config):
    """Settings for the test suite: a throwaway database and cheap password hashing."""

    APP_ENV = "testing"
    TESTING = True
    SECRET_KEY = "test-secret-key-that-is-long-enough-for-hs256"
    SQLALCHEMY_DATABASE_URI = normalize_database_url(
        os.environ.get("TEST_DATABASE_URL", "sqlite:///test.db")
    )
    DATABASE_REPLICA_URL = None
    ARGON2_TIME_COST = 1
    ARGON2_MEMORY_COST = 8
    ARGON2_PARALLELISM = 1
