"""Engine hooks both apps install on their engines."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, scoped_session

# What the shared queries run in: a plain session (the FastAPI variant's, one per request) or
# Flask-SQLAlchemy's scoped session, which proxies the request's session.
AnySession = Session | scoped_session[Any]


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    """SQLite leaves foreign keys off per connection; WAL lets readers run beside a writer."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def end_reads(session: AnySession) -> None:
    """End the request's read-only transaction before slow work that needs no database (password
    hashing), so no connection sits idle in a transaction meanwhile. Nothing is pending, so this
    commits nothing; rows already loaded stay usable (both apps use expire_on_commit=False)."""
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("end_reads() with pending changes would commit them early")
    session.commit()


def prepare_engine(engine: Engine) -> None:
    """Install the per-connection settings the schema relies on (SQLite's foreign keys)."""
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_on_connect)
