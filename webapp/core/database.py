"""Engine hooks both apps install on their engines, and how the shared queries read rows."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Dialect, Engine, Select, event
from sqlalchemy.orm import Session, scoped_session
from sqlalchemy.sql.compiler import SQLCompiler

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


# Statement texts a cursor plan keeps, per values written into the SQL (LIMIT and OFFSET).
PLAN_TEXTS = 1024


class _CursorPlan:
    """A statement compiled once for a dialect, to run on the DBAPI cursor (read_rows)."""

    def __init__(self, compiled: SQLCompiler) -> None:
        self.compiled = compiled
        binds = compiled.binds.values()
        # Values written into the SQL text itself (literal_execute: LIMIT and OFFSET) decide
        # the text; an expanding IN list would too, by its length, so such a plan keeps none.
        self.literals = tuple(bind.key for bind in binds if bind.literal_execute)
        self.keeps_texts = not any(bind.expanding for bind in binds)
        # Per literal values: the text and the names of the parameters it binds.
        self.texts: dict[tuple[Any, ...], tuple[str, tuple[str, ...]]] = {}

    def execution(self, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """The SQL text and the driver's parameters for these values, as SQLAlchemy makes them."""
        if not self.keeps_texts:
            state = self.compiled.construct_expanded_state(params)
            return state.statement, dict(state.parameters)
        key = tuple(params.get(name) for name in self.literals)
        kept = self.texts.get(key)
        if kept is None:
            # SQLAlchemy writes the values in (a regex pass over the text, about 10 µs); each
            # text is written once per plan, up to PLAN_TEXTS of them.
            state = self.compiled.construct_expanded_state(params)
            kept = state.statement, tuple(state.parameters)
            if len(self.texts) < PLAN_TEXTS:
                self.texts[key] = kept
        text, names = kept
        values = self.compiled.construct_params(params)
        return text, {name: values[name] for name in names}


@lru_cache(maxsize=256)
def _cursor_plan(statement: Select[Any], dialect: Dialect) -> _CursorPlan | None:
    """The statement's plan for this dialect, if its rows can be read straight off the DBAPI
    cursor: named parameters, and SQLAlchemy would convert neither a parameter nor a column (on
    PostgreSQL with psycopg none of the API's reads needs it; SQLite's dates do)."""
    compiled = statement.compile(dialect=dialect)
    if compiled.positional:
        return None
    types = [bind.type for bind in compiled.binds.values() if not bind.literal_execute]
    if any(kind.dialect_impl(dialect).bind_processor(dialect) for kind in types):
        return None
    columns = [column.type for column in statement.selected_columns]
    if any(kind.dialect_impl(dialect).result_processor(dialect, None) for kind in columns):
        return None
    return _CursorPlan(compiled)


def compile_plans(engine: Engine, statements: Sequence[Select[Any]]) -> None:
    """Compile the statements' cursor plans for this engine's dialect ahead of the requests
    that would (the dialect must be initialized: the engine has connected once)."""
    for statement in statements:
        _cursor_plan(statement, engine.dialect)


def session_rows(
    session: AnySession, statement: Select[Any], params: dict[str, Any]
) -> Sequence[Sequence[Any]]:
    """The rows of a column SELECT run for this session's request, as tuples by position.

    The shared queries' statements load columns, never ORM entities, so the ORM's execution
    layer (events, loading context, identity map) has nothing to add and is not used.
    A read-only request in autocommit (its session's engine is an autocommit twin, see
    webapp.transactions) has no transaction to keep a connection for: while its session has not
    begun one, each statement runs on its own, on a pooled connection checked out for it and
    given back with its rows in, before they are turned into a response (pooled_rows). A scoped
    session not opened yet is not opened for it (its class names the engine, SESSIONLESS_HOOK):
    a read that loads columns only never creates, begins or closes a session, which under load
    cost more than its statement.
    Once the session is in a transaction (a write, or a read that loaded an entity first, such as
    the caller's account), the statement runs on its connection, after a flush of pending changes
    as Session.execute's autoflush would: a write reads what it wrote, in its transaction, on its
    route.
    """
    engine = _autocommit_engine(session)
    if engine is not None:
        return pooled_rows(engine, statement, params)
    current = session() if isinstance(session, scoped_session) else session
    current.flush()
    return read_rows(current.connection(), statement, params)


def session_dialect(session: AnySession) -> Dialect:
    """The dialect this session's statements run on, found without opening a scoped session."""
    engine = _autocommit_engine(session)
    return (engine if engine is not None else session.get_bind()).dialect


# The classmethod a session class may offer so that a read-only request's statements need no
# session: it returns the autocommit engine they would run on, or None (webapp.routing).
SESSIONLESS_HOOK = "read_only_engine"


def _autocommit_engine(session: AnySession) -> Engine | None:
    """The autocommit engine a statement of this session's request may run on by itself, or None
    when it belongs on the session's connection (a transaction has begun, changes are pending,
    or the engine is not in autocommit)."""
    if isinstance(session, scoped_session) and not session.registry.has():
        hook = getattr(session.session_factory.class_, SESSIONLESS_HOOK, None)
        if hook is None:
            return None
        bind = hook()
    else:
        current = session() if isinstance(session, scoped_session) else session
        if current.in_transaction() or current.new or current.deleted:
            return None
        bind = current.get_bind()
    return bind if isinstance(bind, Engine) and _autocommit(bind) else None


def _autocommit(bind: Engine | Connection) -> bool:
    """Whether statements on this engine or connection run in autocommit (no transaction)."""
    return bind.get_execution_options().get("isolation_level") == "AUTOCOMMIT"


def read_rows(
    connection: Connection, statement: Select[Any], params: dict[str, Any]
) -> Sequence[Sequence[Any]]:
    """The rows of a SELECT, as tuples by position: off the DBAPI cursor for a read-only request.

    On an autocommit connection (a read request on PostgreSQL, webapp.transactions) the
    statement, compiled once by SQLAlchemy, runs on the connection's own DBAPI cursor: no
    execution context, result metadata or Row objects, about 130 µs less per read, with the same
    rows SQLAlchemy would give (checked by _cursor_plan and tests/test_transactions.py).
    Everything else goes through SQLAlchemy: transactions, other dialects, and connections with
    cursor-execute listeners (instrumentation and the statement-counting tests see every
    statement). A failure on the cursor is handed to SQLAlchemy by running the statement again
    its way: it classifies the error (a dead connection is discarded with its pool's older ones,
    and the request marked to be run again), wraps it and raises it, exactly as before; a read
    in autocommit changes nothing, so running it twice is safe.
    """
    plan = None
    if _autocommit(connection) and not _listened(connection):
        plan = _cursor_plan(statement, connection.dialect)
    if plan is None:
        return connection.execute(statement, params).all()
    text, parameters = plan.execution(params)
    try:
        return _cursor_rows(connection.connection, text, parameters)
    except connection.dialect.loaded_dbapi.Error:
        return connection.execute(statement, params).all()


def _cursor_rows(
    dbapi_connection: Any, text: str, parameters: dict[str, Any]
) -> Sequence[Sequence[Any]]:
    """A statement's rows as the DBAPI cursor gives them (tuples, by position)."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(text, parameters)
        rows: Sequence[Sequence[Any]] = cursor.fetchall()
        return rows
    finally:
        cursor.close()


def _listened(bind: Engine | Connection) -> bool:
    """Whether something listens to this bind's cursor executions (instrumentation, the
    statement-counting tests): then its statements take SQLAlchemy's path, where they see them."""
    dispatch = bind.dispatch
    return bool(dispatch.before_cursor_execute or dispatch.after_cursor_execute)


def pooled_rows(
    engine: Engine, statement: Select[Any], params: dict[str, Any]
) -> Sequence[Sequence[Any]]:
    """A statement's rows read on a connection checked out of the autocommit engine's pool for
    it alone, in autocommit, and given back at once.

    The pooled connection is used without a SQLAlchemy Connection around it: what that adds for
    one statement (event dispatch, the isolation level set as an execution option and reset by
    a checkin callback) cost about a third as much as the statement's own execution. The
    connection is switched to autocommit by the dialect's own method, and only if it is not in
    autocommit already; it goes back to the pool as it is, since a connection taken for a
    transaction is switched back first (webapp.transactions). Failures stay SQLAlchemy's: one to
    check a connection out is wrapped and reported (handle_error hooks, the 503) as
    Engine.connect does, once; after one on the cursor the connection is discarded and the
    statement runs again through SQLAlchemy, as read_rows does. Statements the cursor cannot
    take as they are, and engines with cursor-execute listeners, go through SQLAlchemy directly.
    """
    dialect = engine.dialect
    plan = None if _listened(engine) else _cursor_plan(statement, dialect)
    rows: Sequence[Sequence[Any]] | None = None
    if plan is not None:
        text, parameters = plan.execution(params)
        try:
            pooled = engine.raw_connection()
        except dialect.loaded_dbapi.Error as error:
            # The wrapping and the handle_error hooks Engine.connect gives a failed checkout.
            Connection._handle_dbapi_exception_noconnection(error, dialect, engine)
        try:
            dbapi_connection = pooled.dbapi_connection
            assert dbapi_connection is not None  # None only once invalidated
            # psycopg's flag (autocommit twins exist for PostgreSQL only).
            if not dbapi_connection.autocommit:
                dialect.set_isolation_level(dbapi_connection, "AUTOCOMMIT")
            rows = _cursor_rows(dbapi_connection, text, parameters)
        except dialect.loaded_dbapi.Error:
            # The connection may be broken: discarded. SQLAlchemy classifies the failure when
            # the statement runs again its way, below.
            pooled.invalidate()
        except BaseException:
            pooled.close()
            raise
        else:
            pooled.close()
    if rows is None:
        with engine.connect() as connection:
            return connection.execute(statement, params).all()
    return rows
