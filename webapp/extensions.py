"""Extension objects, created unbound; create_app() binds them to an app."""

from __future__ import annotations

import logging

from flask import Flask
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import exc as sa_exc

from webapp.core.database import compile_plans, prepare_engine
from webapp.core.models import Base
from webapp.core.queries import read_statements

from . import routing, transactions

log = logging.getLogger(__name__)

# The models live on the framework-neutral Base (shared with the FastAPI variant); given a
# DeclarativeBase subclass, Flask-SQLAlchemy builds db.Model on the same registry and metadata.
# expire_on_commit=False: a view dumps what it just committed without re-reading every row.
# RoutingSession: read-only requests may go to a replica (webapp/routing.py).
db = SQLAlchemy(
    model_class=Base,
    session_options={"expire_on_commit": False, "class_": routing.RoutingSession},
)
migrate = Migrate(compare_type=True, render_as_batch=True)


def _close_session(exc: BaseException | None) -> None:
    """Remove the request's session, tolerating a connection the database dropped meanwhile.

    Runs just before Flask-SQLAlchemy's own teardown, which then finds nothing left to close.
    Ending a read transaction on a connection lost during an outage raises; SQLAlchemy has
    already discarded that connection and the session is left clean, so the response already
    made stands instead of becoming a bare 500 from the server, and Flask-SQLAlchemy's removal
    that follows succeeds.
    """
    if not db.session.registry.has():
        return
    try:
        db.session.remove()
    except sa_exc.DBAPIError as error:
        log.warning("closing the session failed, its connection was discarded: %s", error.orig)


def init_db(app: Flask) -> None:
    """Bind Flask-SQLAlchemy and Flask-Migrate; engines are built here, none is connected."""
    routing.configure(app)
    transactions.configure(app)
    db.init_app(app)
    migrate.init_app(app, db)
    # Registered after Flask-SQLAlchemy's, so it runs first (teardowns run in reverse).
    app.teardown_appcontext(_close_session)
    with app.app_context():
        for engine in db.engines.values():
            prepare_engine(engine)
        transactions.init_app(app, db.engines)
    # After transactions: its rerun of a read must see the replica marked down (routing's hooks).
    routing.init_app(app)


def prepare_worker(app: Flask) -> None:
    """Compile the reads' statements in a new server worker, before it takes requests.

    Otherwise each new worker (at start, and after every recycle) compiles a statement on the
    first request of its shape: about 16 ms on one core, holding the GIL, so the worker's other
    request threads stall with it; under load the first seconds of a worker showed a p99 of 2-3x.
    The first connection initializes the dialect the plans are compiled for, and stays pooled for
    a request. A database that does not answer leaves the compiling to the requests, as before.
    """
    with app.app_context():
        for engine in db.engines.values():
            try:
                engine.connect().close()
            except sa_exc.DBAPIError as error:
                log.warning("statements left to compile on first use: %s", error.orig)
                continue
            compile_plans(engine, read_statements(engine.dialect.name))
