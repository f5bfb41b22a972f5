"""The engine, created once at import from the settings, and one session per request."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from sqlalchemy import create_engine
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, sessionmaker

from config import engine_options
from webapp.core.database import prepare_engine

from .settings import settings

log = logging.getLogger(__name__)


_url = settings.sqlalchemy_url()
# The Flask app's engine options, from the same variables (config.py imports no framework).
_options = engine_options(
    _url, {name.upper(): value for name, value in settings.model_dump().items()}
)
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
