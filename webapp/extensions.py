"""Extension objects, created unbound; create_app() binds them to an app."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from flask import Flask
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import DeclarativeBase

from . import routing

log = logging.getLogger(__name__)

# Stable constraint names, so migrations (and SQLite batch mode) can address them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base whose metadata carries the naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# expire_on_commit=False: a view dumps what it just committed without re-reading every row.
# RoutingSession: read-only requests may go to a replica (webapp/routing.py).
db = SQLAlchemy(
    model_class=Base,
    session_options={"expire_on_commit": False, "class_": routing.RoutingSession},
)
migrate = Migrate(compare_type=True, render_as_batch=True)

if TYPE_CHECKING:
    # A type checker cannot derive a class from an attribute (db.Model); for it, models derive
    # from this declarative class, as db.Model does at run time (Flask-SQLAlchemy issue 1186).
    class Model(Base):
        """What db.Model is to a type checker."""

        __abstract__ = True

else:
    Model = db.Model


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    """SQLite leaves foreign keys off per connection; WAL lets readers run beside a writer."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def _close_session(exc: BaseException | None) -> None:
    """Close the request's session, tolerating a connection the database dropped meanwhile.

    Runs just before Flask-SQLAlchemy's teardown removes the session. Ending a read transaction
    on a connection lost during an outage raises; SQLAlchemy has already discarded that
    connection and the session is left clean, so the response already made stands instead of
    becoming a bare 500 from the server, and the removal that follows succeeds.
    """
    if not db.session.registry.has():
        return
    try:
        db.session.close()
    except sa_exc.DBAPIError as error:
        log.warning("closing the session failed, its connection was discarded: %s", error.orig)


def init_db(app: Flask) -> None:
    """Bind Flask-SQLAlchemy and Flask-Migrate; engines are built here, none is connected."""
    routing.configure(app)
    db.init_app(app)
    migrate.init_app(app, db)
    routing.init_app(app)
    # Registered after Flask-SQLAlchemy's, so it runs first (teardowns run in reverse).
    app.teardown_appcontext(_close_session)
    with app.app_context():
        for engine in db.engines.values():
            if engine.dialect.name == "sqlite":
                event.listen(engine, "connect", _sqlite_on_connect)
