"""Settings read once from the environment (pydantic-settings), with the Flask app's names."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from config import normalize_database_url

# Relative SQLite paths resolve inside the instance folder, as Flask-SQLAlchemy does for the
# Flask app, so both apps open the same default database file.
INSTANCE = Path(__file__).resolve().parent.parent / "instance"


class Settings(BaseSettings):
    """Every value comes from the environment variable of the same name (case-insensitive)."""

    model_config = SettingsConfigDict(extra="ignore")

    app_env: str = "development"
    database_url: str = "sqlite:///conduit.db"
    secret_key: str | None = None
    secret_key_file: str | None = None
    jwt_lifetime_seconds: int = 7 * 24 * 3600
    max_content_length: int = 1024 * 1024
    argon2_time_cost: int = 3
    argon2_memory_cost: int = 64 * 1024
    argon2_parallelism: int = 1
    # Hashes at once per process, and how long a login may wait for a slot (then 503).
    argon2_max_concurrency: int = max(1, (os.cpu_count() or 2) // 2)
    argon2_wait_ms: int = 0
    retry_after_seconds: int = 5
    # Browser origins allowed to call /api, comma-separated; outside production, with none set,
    # local front ends (any port on localhost, 127.0.0.1, [::1]) may, as with the Flask app.
    cors_origins: str = ""
    # Request threads per worker (anyio's limiter for sync endpoints); gunicorn's THREADS twin.
    threads: int = 40
    db_pool_pre_ping: bool = True
    db_pool_recycle: int = 1800
    db_pool_timeout: int = 5
    db_pool_size: int = 5
    db_max_overflow: int = 5
    db_connect_timeout: int = 3
    db_statement_timeout_ms: int = 15000
    db_tcp_user_timeout_ms: int = 10000
    db_prepared_statements: bool = True
    sqlite_busy_timeout: int = 15

    def sqlalchemy_url(self) -> str:
        """The database URL: psycopg 3 for PostgreSQL, relative SQLite paths in instance/."""
        url = normalize_database_url(self.database_url)
        path = url.removeprefix("sqlite:///")
        if url.startswith("sqlite:///") and path and not os.path.isabs(path):
            INSTANCE.mkdir(exist_ok=True)
            return f"sqlite:///{INSTANCE / path}"
        return url

    def allowed_origins(self) -> list[str]:
        """CORS_ORIGINS as a list."""
        return [origin.strip() for origin in self.cors_origins.split(",") if origin.strip()]

    def signing_key(self) -> str:
        """SECRET_KEY; outside production the Flask app's generated instance/secret_key file."""
        if self.secret_key:
            return self.secret_key
        if self.app_env == "production":
            raise RuntimeError("SECRET_KEY must be set in production.")
        path = Path(self.secret_key_file or INSTANCE / "secret_key")
        path.parent.mkdir(exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # generated earlier, by either app
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(48))
        return path.read_text().strip()


settings = Settings()
