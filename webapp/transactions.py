"""How a request uses its database connection: a read-only request in one round trip per
statement, a write in one transaction that commits at the end.

- **Reads** (GET, HEAD, OPTIONS) run on the engine's autocommit twin, which shares its pool:
  psycopg sends no BEGIN before the statement and no ROLLBACK when the connection goes back to
  the pool, so a one-statement read is one round trip. Such a request never writes, so there is
  nothing to commit or roll back; each statement sees committed data as of its own start. Until
  its session loads an entity, each of its column statements checks a connection out just for
  itself and reads the rows straight off the DBAPI cursor, without opening a session at all
  (webapp.core.database.session_rows; RoutingSession.read_only_engine names the engine). That
  connection goes back to the pool in autocommit, so the next read switches nothing.
- **Writes** keep the unit of work: one transaction, committed once by the view, rolled back on
  any error (Flask-SQLAlchemy's session, removed after every request). Every SQLAlchemy
  connection that is not an autocommit twin's is switched out of autocommit as it is opened
  (_in_transactions), whatever a read left in the pool.
- **Dead connections** (after a database restart or a network cut): a write's connection is
  tested before use (DB_POOL_PRE_PING), exactly as the pool's own pre-ping did. A read's is not,
  which would cost a round trip on every read; instead, a read that finds its pooled connection
  dead answers nothing yet and is run again once from the start (RetryReads), on a fresh
  connection: SQLAlchemy has by then discarded every connection older than the failure. A read
  changes nothing, so running it twice is safe. When the database is really down, the rerun fails
  to connect and the answer is the usual 503.

PostgreSQL only: SQLite has no round trips to save, so it keeps plain transactions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask, current_app, has_request_context, request
from sqlalchemy import Connection, Dialect, Engine, event
from sqlalchemy import exc as sa_exc

log = logging.getLogger(__name__)

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# WSGI environ keys: the request met a dead pooled connection (or a failing replica) and is to be
# run again; the keys a first attempt leaves that a rerun must not inherit start with ATTEMPT.
RETRY_KEY = "conduit.transactions.retry"
ATTEMPT = "conduit.attempt."
EXTENSION = "autocommit_engines"


def is_read_request() -> bool:
    """Whether the current request only reads (safe methods); False outside a request."""
    return has_request_context() and request.method in READ_METHODS


def reading_engine(engine: Engine) -> Engine:
    """The engine a read-only request uses: the autocommit twin of `engine` when it has one."""
    twins: dict[Engine, Engine] = current_app.extensions.get(EXTENSION, {})
    return twins.get(engine, engine)


def _write_pinger(dialect: Dialect) -> Callable[[Any, Any, Any], None]:
    """A pool checkout hook that tests a connection before a write (or CLI work) uses it."""

    def ping(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        if is_read_request():
            return  # reads are run again instead (RetryReads): no extra round trip
        try:
            # The dialect's own ping, as pool_pre_ping uses: one SELECT 1, outside any transaction.
            dialect.do_ping(dbapi_connection)
        except Exception as error:  # any failure of the probe means this connection is unusable
            # DisconnectionError in a checkout hook makes the pool discard this connection and
            # check out another (SQLAlchemy's pessimistic disconnect handling).
            raise sa_exc.DisconnectionError(str(error)) from error

    return ping


def _in_transactions(connection: Connection) -> None:
    """A SQLAlchemy connection that is not an autocommit twin's runs in transactions: one a
    sessionless read left in autocommit in the pool (webapp.core.database.pooled_rows) is
    switched back before anything runs on it."""
    if connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
        return  # the twin's own connection: SQLAlchemy sets its level
    dialect = connection.dialect
    dbapi_connection = connection.connection.dbapi_connection
    if dbapi_connection is not None and dbapi_connection.autocommit:
        try:
            dialect.reset_isolation_level(dbapi_connection)
        except dialect.loaded_dbapi.Error:
            # A broken connection: SQLAlchemy opens a new one (in transactions) for its first
            # statement; a write's failure then surfaces there, classified as usual.
            connection.invalidate()


def _mark_dead_connection(context: Any) -> None:
    """A read's pooled connection turned out dead: have the read run again on a fresh one."""
    # connection is None when opening a new connection failed: the database is down, and running
    # the read again would only double the wait for the same 503.
    if context.is_disconnect and context.connection is not None and is_read_request():
        request.environ[RETRY_KEY] = True


class RetryReads:
    """WSGI middleware: runs a read again, once, when its first attempt was marked for it.

    The first attempt's response is held back (Flask builds whole responses) and discarded when a
    rerun follows; only a server-error answer is ever replaced.
    """

    def __init__(self, wsgi_app: Callable[..., Any]) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("REQUEST_METHOD") not in READ_METHODS:
            return self.wsgi_app(environ, start_response)
        started: list[tuple[Any, ...]] = []

        def hold(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            started.append((status, headers, exc_info))
            return lambda data: None  # the app never writes directly

        body = self.wsgi_app(environ, hold)
        if environ.pop(RETRY_KEY, False) and started[0][0].startswith("5"):
            if hasattr(body, "close"):
                body.close()
            for key in [key for key in environ if key.startswith(ATTEMPT)]:
                del environ[key]
            log.info("read %s ran again after a connection failure", environ.get("PATH_INFO"))
            return self.wsgi_app(environ, start_response)
        start_response(*started[0])
        return body


def configure(app: Flask) -> None:
    """Before the engines are built: on PostgreSQL no pool pings by itself (init_app pings
    writes only), the replica's included; call before db.init_app, after routing.configure."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        return
    options = app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {})
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {**options, "pool_pre_ping": False}
    binds = app.config.get("SQLALCHEMY_BINDS", {})
    app.config["SQLALCHEMY_BINDS"] = {
        key: {**bind, "pool_pre_ping": False} if isinstance(bind, dict) else bind
        for key, bind in binds.items()
    }


def init_app(app: Flask, engines: Mapping[Any, Engine]) -> None:
    """Give each PostgreSQL engine an autocommit twin for reads, ping writes, retry reads."""
    twins: dict[Engine, Engine] = {}
    for engine in engines.values():
        if engine.dialect.name != "postgresql":
            continue
        twins[engine] = engine.execution_options(isolation_level="AUTOCOMMIT")
        event.listen(engine, "engine_connect", _in_transactions)
        if app.config["DB_POOL_PRE_PING"]:
            event.listen(engine.pool, "checkout", _write_pinger(engine.dialect))
        event.listen(engine, "handle_error", _mark_dead_connection)
    app.extensions[EXTENSION] = twins
    app.wsgi_app = RetryReads(app.wsgi_app)  # type: ignore[method-assign]
