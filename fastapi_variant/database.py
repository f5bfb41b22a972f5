"""The engine, created once at import from the settings, and one session per request."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, sessionmaker

from webapp.core.database import prepare_engine

from .settings import Settings, settings

log = logging.getLogger(__name__)


def engine_options(s: Settings, url: str) -> dict[str, Any]:
    """Pool sizing and timeouts: the same options, from the same variables, as the Flask app."""
    options: dict[str, Any] = {
        "pool_pre_ping": s.db_pool_pre_ping,
        "pool_recycle": s.db_pool_recycle,
        # Errors and logs show the SQL but never its values (emails, password hashes).
        "hide_parameters": True,
    }
    if url.startswith("sqlite"):
        options["connect_args"] = {"timeout": s.sqlite_busy_timeout}
        if url in ("sqlite://", "sqlite:///:memory:"):
            return options
    options.update(
        pool_timeout=s.db_pool_timeout, pool_size=s.db_pool_size, max_overflow=s.db_max_overflow
    )
    if url.startswith("postgresql"):
        options["connect_args"] = {
            "connect_timeout": s.db_connect_timeout,
            "options": f"-c statement_timeout={s.db_statement_timeout_ms}",
            "tcp_user_timeout": s.db_tcp_user_timeout_ms,
        }
        if not s.db_prepared_statements:
            options["connect_args"]["prepare_threshold"] = None
    return options


_url = settings.sqlalchemy_url()
_options = engine_options(settings, _url)
engine = create_engine(_url, **_options)
# How many sessions can hold a connection at once (see deps.SessionDep).
POOL_CAPACITY = _options.get("pool_size", 5) + _options.get("max_overflow", 10)
prepare_engine(engine)
# expire_on_commit=False, as in the Flask app: a view dumps what it just committed without
# re-reading every row, so both apps send the same statements.
SessionLocal = sessionmaker(engine, expire_on_commit=False)


def get_db() -> Iterator[Session]:
    """One session per request: the view commits its writes; any exception rolls back; the
    session is closed (its connection back in the pool) whatever happened."""
    session = SessionLocal()
    try:
        yield session
    except Exception:
        # Discard the failed unit of work; a dead connection must not mask the original error.
        try:
            session.rollback()
        except sa_exc.SQLAlchemyError:
            log.warning("rollback failed", exc_info=True)
        raise
    finally:
        try:
            session.close()
        except sa_exc.DBAPIError as error:
            # A connection lost during an outage: SQLAlchemy has discarded it; the response stands.
            log.warning("closing the session failed, its connection was discarded: %s", error.orig)
