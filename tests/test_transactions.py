"""How requests use their connection on PostgreSQL (webapp/transactions.py): reads in
autocommit (no BEGIN, no ROLLBACK), writes in one transaction; after the database drops every
connection, the next read is run again on a fresh one and the next write is pinged first."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import make_url

from webapp.extensions import db

pytestmark = pytest.mark.postgres


@contextmanager
def autocommit_of_statements(app: Flask) -> Iterator[list[bool]]:
    """While open, for every statement the app sends: was its connection in autocommit? (A
    cursor-execute listener: reads sent meanwhile go through SQLAlchemy, database.read_rows.)"""
    seen: list[bool] = []

    def record(conn: Any, *args: Any) -> None:
        seen.append(conn.connection.dbapi_connection.autocommit)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


@pytest.fixture
def autocommit_seen(app: Flask) -> Iterator[list[bool]]:
    """For every statement the app sends: was its connection in autocommit?"""
    with autocommit_of_statements(app) as seen:
        yield seen


def comment_on(client: Any, slug: str, user: dict[str, Any], body: str) -> Any:
    """A write: a comment on the article."""
    comment = {"comment": {"body": body}}
    return client.post(f"/api/articles/{slug}/comments", json=comment, headers=user["headers"])


def drop_the_apps_connections(database_url: str) -> int:
    """What a database restart does to the pool: every other session of the database ends."""
    url = make_url(database_url).set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return len(rows)


def test_reads_run_in_autocommit_and_writes_in_a_transaction(
    client, make_user, make_article, autocommit_seen
):
    jake = make_user("jake")
    slug = make_article(jake, "Autocommit")["slug"]
    autocommit_seen.clear()
    for path in ("/api/articles", "/api/articles/feed", f"/api/articles/{slug}", "/api/user"):
        assert client.get(path, headers=jake["headers"]).status_code == 200
    assert autocommit_seen
    assert all(autocommit_seen)

    autocommit_seen.clear()
    response = comment_on(client, slug, jake, "in one transaction")
    assert response.status_code == 200
    assert autocommit_seen
    assert not any(autocommit_seen)


@pytest.mark.parametrize("pooled", [1, 3])
def test_a_read_whose_connection_died_runs_again_on_a_fresh_one(
    client, make_user, make_article, database_url, app, caplog, pooled
):
    """After a restart every pooled connection is dead. A read that meets one answers from a
    fresh connection: at once when its statement's own was the only one (it is discarded and the
    statement runs again through SQLAlchemy), else by running the whole request again once
    SQLAlchemy has discarded the pool's older connections."""
    jake = make_user("jake")
    make_article(jake, "Survives a restart")
    with app.app_context():
        engine = db.engine
        held = [engine.connect() for _ in range(pooled)]
        for connection in held:
            connection.close()
        assert engine.pool.checkedin() == pooled
    assert client.get("/api/articles", headers=jake["headers"]).status_code == 200
    assert drop_the_apps_connections(database_url) >= 1

    with caplog.at_level(logging.INFO, logger="webapp.transactions"):
        response = client.get("/api/articles", headers=jake["headers"])
    assert response.status_code == 200
    assert response.get_json()["articles"][0]["title"] == "Survives a restart"
    assert ("ran again after a connection failure" in caplog.text) == (pooled > 1)
    assert client.get("/api/articles", headers=jake["headers"]).status_code == 200


def test_a_write_after_the_connections_died_is_pinged_and_succeeds(
    client, make_user, make_article, database_url, caplog
):
    jake = make_user("jake")
    slug = make_article(jake, "Pinged")["slug"]
    assert drop_the_apps_connections(database_url) >= 1

    with caplog.at_level(logging.INFO, logger="webapp.transactions"):
        response = client.post(f"/api/articles/{slug}/favorite", headers=jake["headers"])
    assert response.status_code == 200
    assert response.get_json()["article"]["favoritesCount"] == 1
    assert "ran again" not in caplog.text  # a write is never run twice


def test_a_read_is_run_again_at_most_once(client, make_user, database_url, monkeypatch):
    # Both attempts find a dead connection: the second failure is the answer, a 503.
    jake = make_user("jake")
    calls = []
    from webapp.core import queries

    real = queries.articles_page

    def dying(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        db.session.connection()  # this attempt's connection, fresh on the rerun ...
        drop_the_apps_connections(database_url)  # ... dropped before its statement
        return real(*args, **kwargs)

    monkeypatch.setattr(queries, "articles_page", dying)
    response = client.get("/api/articles", headers=jake["headers"])
    assert response.status_code == 503
    assert response.get_json()["errors"]["body"]
    assert len(calls) == 2


def test_pages_are_planned_once_per_connection(client, make_user, make_article, app):
    """The list's prepared statement gets a generic plan (LIMIT and OFFSET written as numbers):
    PostgreSQL stops planning it again on every request. The feed's has one as well."""
    jake = make_user("jake")
    make_article(jake, "Planned once")
    for _ in range(12):  # psycopg prepares on the 5th; PostgreSQL compares plans for 5 more
        for path in ("/api/articles?limit=5", "/api/articles/feed?limit=5"):
            assert client.get(path, headers=jake["headers"]).status_code == 200
    with app.app_context(), db.engine.connect() as conn:
        # Requests here run one at a time, so the pool's one connection ran them all.
        plans = conn.exec_driver_sql(
            "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements"
        ).all()
    pages = [plan for plan in plans if "total" in plan.statement and "ORDER BY" in plan.statement]
    assert len(pages) == 2, [plan.statement[:80] for plan in plans]
    for statement, generic, custom in pages:
        assert generic >= 2, (statement[:200], generic, custom)


READ_PATHS = (
    "/api/articles",
    "/api/articles?tag=dragons",
    "/api/articles?author=jake",
    "/api/articles?favorited=jake",
    "/api/articles?limit=1&offset=1",
    "/api/articles?offset=50",
    "/api/articles/feed",
    "/api/articles/{slug}",
    "/api/articles/{slug}/comments",
    "/api/profiles/jake",
    "/api/tags",
)


def test_reads_come_off_the_cursor_with_what_sqlalchemy_would_give(
    client, make_user, make_article, app, monkeypatch
):
    """A read request's rows come straight off the DBAPI cursor (database.read_rows), with the
    same answer as through SQLAlchemy, which a cursor-execute listener still gets."""
    from sqlalchemy.engine import Connection

    jake, ann = make_user("jake"), make_user("ann")
    slug = make_article(jake, "Dragons", tagList=["dragons", "zebras"])["slug"]
    make_article(jake, "Plain")
    headers = ann["headers"]
    assert client.post("/api/profiles/jake/follow", headers=headers).status_code == 200
    assert client.post(f"/api/articles/{slug}/favorite", headers=jake["headers"]).status_code == 200
    assert comment_on(client, slug, ann, "Roar").status_code == 200

    def answers(who: dict[str, str]) -> list[Any]:
        bodies = []
        for path in READ_PATHS:
            if "feed" in path and not who:
                continue
            response = client.get(path.format(slug=slug), headers=who)
            assert response.status_code == 200, (path, response.get_json())
            bodies.append(response.get_json())
        return bodies

    executed: list[str] = []
    real_execute = Connection.execute

    def counting(self: Connection, statement: Any, *args: Any, **kwargs: Any) -> Any:
        executed.append(str(statement))
        return real_execute(self, statement, *args, **kwargs)

    monkeypatch.setattr(Connection, "execute", counting)
    direct = [answers({})]
    assert executed == []  # not one statement went through SQLAlchemy's execution
    direct.insert(0, answers(headers))
    # Signed in, only the ORM's account lookups (auth._caller's session.get) did.
    assert executed
    assert all(text.startswith("SELECT users.id, users.username") for text in executed)

    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        through_sqlalchemy = [answers(headers), answers({})]
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert len(seen) >= len(READ_PATHS)  # with a listener, every statement is seen
    assert executed
    assert direct == through_sqlalchemy
    assert direct[0][0]["articles"][1]["favorited"] is False
    assert direct[0][0]["articles"][1]["author"]["following"] is True


def test_a_failure_on_the_cursor_is_sqlalchemys_to_handle(client, make_user, monkeypatch):
    """The cursor's error is handed to SQLAlchemy, which runs the statement its way: a failure
    that does not last (here the first execution only) costs nothing; one that does is raised
    as SQLAlchemy's error, which the error layer answers as before (a timeout is a 503)."""
    from psycopg import Cursor, errors

    jake = make_user("jake")
    failures: list[str] = []
    real_execute = Cursor.execute

    def failing_once(self: Cursor, query: Any, *args: Any, **kwargs: Any) -> Any:
        if not failures:
            failures.append(str(query))
            raise errors.QueryCanceled("canceling statement due to statement timeout")
        return real_execute(self, query, *args, **kwargs)

    monkeypatch.setattr(Cursor, "execute", failing_once)
    response = client.get("/api/articles", headers=jake["headers"])
    assert response.status_code == 200
    assert failures

    def always_failing(self: Cursor, query: Any, *args: Any, **kwargs: Any) -> Any:
        raise errors.QueryCanceled("canceling statement due to statement timeout")

    monkeypatch.setattr(Cursor, "execute", always_failing)
    response = client.get("/api/articles", headers=jake["headers"])
    assert response.status_code == 503
    assert response.get_json()["errors"]["body"]


def test_a_write_after_sessionless_reads_runs_in_a_transaction(
    client, make_user, make_article, app
):
    """A sessionless read leaves its pooled connection in autocommit; a write that gets it next
    has it switched back before its first statement (webapp.transactions._in_transactions)."""
    jake = make_user("jake")
    slug = make_article(jake, "After reads")["slug"]
    for _ in range(3):
        assert client.get("/api/articles", headers=jake["headers"]).status_code == 200
    with app.app_context():
        pool = db.engine.pool
    # The pool's one connection, as the reads left it: what the write would otherwise inherit.
    assert pool.checkedin() == 1
    pooled = pool.connect()
    assert pooled.dbapi_connection.autocommit
    pooled.close()
    with autocommit_of_statements(app) as seen:
        response = comment_on(client, slug, jake, "in one transaction")
    assert response.status_code == 200
    assert seen
    assert not any(seen)


def test_a_write_whose_connection_cannot_leave_autocommit_gets_a_new_one(
    client, make_user, make_article, app, monkeypatch
):
    """If switching a connection a read left in autocommit back fails (it broke meanwhile), the
    write is given a new connection, in a transaction, instead of failing."""
    jake = make_user("jake")
    slug = make_article(jake, "Broken switch")["slug"]
    assert client.get("/api/articles", headers=jake["headers"]).status_code == 200
    with app.app_context():
        engine = db.engine
    failures: list[int] = []
    real_reset = engine.dialect.reset_isolation_level

    def failing_once(dbapi_connection: Any) -> None:
        if not failures:
            failures.append(1)
            raise psycopg.OperationalError("the connection is lost")
        real_reset(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "reset_isolation_level", failing_once)
    with autocommit_of_statements(app) as seen:
        response = comment_on(client, slug, jake, "on a new connection")
    assert failures
    assert response.status_code == 200, response.get_json()
    assert seen
    assert not any(seen)


def test_a_read_gives_its_connection_back_before_its_response_is_built(
    client, make_user, make_article, app, monkeypatch
):
    """A read-only request's statement checks a connection out for itself and returns it with
    the rows in (database.session_rows): none is held while the page is serialized. Once the
    session has begun (the caller's account loaded first), later statements share its one."""
    from webapp.api import articles

    jake = make_user("jake")
    slug = make_article(jake, "Given back")["slug"]
    with app.app_context():
        pool = db.engine.pool
    held: list[int] = []
    real_page = articles._page

    def page(result: Any) -> Any:
        held.append(pool.checkedout())
        return real_page(result)

    monkeypatch.setattr(articles, "_page", page)
    for path in ("/api/articles", "/api/articles/feed"):
        assert client.get(path, headers=jake["headers"]).status_code == 200
    assert held == [0, 0]

    checkouts: list[int] = []

    def checked_out(*_args: Any) -> None:
        checkouts.append(1)

    event.listen(pool, "checkout", checked_out)
    try:
        response = client.get(f"/api/articles/{slug}", headers=jake["headers"])
    finally:
        event.remove(pool, "checkout", checked_out)
    assert response.status_code == 200
    assert len(checkouts) == 1  # the account lookup's connection, then the article's statement


def test_a_read_of_columns_alone_opens_no_session(client, make_user, make_article, monkeypatch):
    """A read-only request whose statements load columns only runs each on a pooled connection
    of its own (database.session_rows): it never opens a session. One that loads an entity, the
    caller's account, opens one for it."""
    from webapp import routing

    jake = make_user("jake")
    slug = make_article(jake, "Sessionless", tagList=["dragons"])["slug"]
    opened: list[int] = []
    real_init = routing.RoutingSession.__init__

    def counting(self: Any, *args: Any, **kwargs: Any) -> None:
        opened.append(1)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(routing.RoutingSession, "__init__", counting)
    for path in READ_PATHS:
        headers = jake["headers"] if "feed" in path else {}
        response = client.get(path.format(slug=slug), headers=headers)
        assert response.status_code == 200, (path, response.get_json())
    assert client.get("/api/articles", headers=jake["headers"]).json["articlesCount"] == 1
    assert opened == []

    assert client.get(f"/api/articles/{slug}", headers=jake["headers"]).status_code == 200
    assert opened == [1]
