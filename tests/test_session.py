"""Session per request and unit of work: connections go back, failures leave nothing behind."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import event, text
from sqlalchemy.exc import IntegrityError

from webapp.core.models import Follow, User
from webapp.extensions import db


def open_transactions(app: Flask) -> int:
    """Connections of this database idling inside a transaction (PostgreSQL), else 0."""
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            return 0
        with db.engine.connect() as conn:
            return conn.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()"
                )
            )


def checked_out(app: Flask) -> int:
    with app.app_context():
        return db.engine.pool.checkedout()


def add_flush_then_fail() -> None:
    """A write that flushes a row and then fails before the commit."""
    db.session.add(User(username="ghost", email="ghost@example.com", password_hash="x"))
    db.session.flush()
    raise RuntimeError("failure after flush")


@pytest.fixture
def failing_app(app: Flask) -> Flask:
    app.add_url_rule("/api/_fail", "fail", add_flush_then_fail, methods=["POST"])
    return app


def test_pool_is_clean_after_every_kind_of_request(failing_app, client, make_user):
    jake = make_user("jake")
    requests = [
        lambda: client.get("/api/user", headers=jake["headers"]),  # success, read
        lambda: client.put(
            "/api/user", json={"user": {"bio": "x"}}, headers=jake["headers"]
        ),  # write
        lambda: client.get("/api/user"),  # 401
        lambda: client.post("/api/users", json={"user": {}}),  # 422 before the database
        lambda: client.post(
            "/api/users",
            json={"user": {"username": "jake", "email": "j@x.io", "password": "password1"}},
        ),  # 422 after a query
        lambda: client.post("/api/_fail"),  # 500 after a flush
    ]
    for send in requests:
        send()
        assert checked_out(failing_app) == 0
        assert open_transactions(failing_app) == 0


def test_failure_after_flush_leaves_nothing_behind(failing_app, client):
    # Reads first: on PostgreSQL they leave the pooled connection in autocommit, which the
    # write must not inherit (webapp.transactions).
    assert client.get("/api/articles").status_code == 200
    response = client.post("/api/_fail")
    assert response.status_code == 500
    with failing_app.app_context():
        assert db.session.scalar(db.select(User).filter_by(username="ghost")) is None


def test_duplicate_that_slips_past_the_precheck_is_422_and_changes_nothing(
    app, client, make_user, monkeypatch
):
    make_user("alice")
    bob = make_user("bob")
    # Simulate a concurrent request winning the race between the pre-check and the commit.
    monkeypatch.setattr("webapp.api.users.ensure_available", lambda *a, **k: None)
    response = client.put(
        "/api/user", json={"user": {"username": "alice", "bio": "changed"}}, headers=bob["headers"]
    )
    assert response.status_code == 422
    assert response.get_json()["errors"]["username"] == ["has already been taken"]
    assert client.get("/api/user", headers=bob["headers"]).get_json()["user"]["bio"] == ""
    registered = client.post(
        "/api/users",
        json={"user": {"username": "alice", "email": "new@example.com", "password": "password1"}},
    )
    assert registered.status_code == 422
    assert registered.get_json()["errors"]["username"] == ["has already been taken"]
    assert checked_out(app) == 0


def test_foreign_keys_are_enforced(app):
    # SQLite needs PRAGMA foreign_keys=ON on every connection for this to hold.
    with app.app_context():
        db.session.add(Follow(follower_id=1001, followed_id=1002))
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()


def test_app_factory_does_not_touch_the_database():
    from tests.conftest import make_app

    # Nothing listens on port 9: building the app would fail if it connected.
    app = make_app("postgresql+psycopg://postgres@127.0.0.1:9/none")
    assert app.url_map.bind("localhost").match("/api/user", method="GET")


def test_a_write_and_its_answer_are_one_transaction(app, client, make_user, make_article):
    """A write reads its answer inside its own transaction, then commits once: no second
    transaction opens after the commit just to read what was written."""
    jake, jane = make_user("jake"), make_user("jane")
    slug = make_article(jake, "One transaction")["slug"]
    with app.app_context():
        engine = db.engine
    begun: list[bool] = []

    def record(conn: object) -> None:
        begun.append(True)

    article = {"article": {"title": "Tagged", "description": "d", "body": "b", "tagList": ["x"]}}
    writes = [
        ("post", "/api/articles", article),
        ("put", f"/api/articles/{slug}", {"article": {"tagList": ["y", "z"]}}),
        ("post", f"/api/articles/{slug}/favorite", None),
        ("delete", f"/api/articles/{slug}/favorite", None),
        ("post", "/api/profiles/jake/follow", None),
        ("delete", "/api/profiles/jake/follow", None),
    ]
    event.listen(engine, "begin", record)
    try:
        for method, path, body in writes:
            begun.clear()
            user = jake if method == "put" else jane
            response = getattr(client, method)(path, json=body, headers=user["headers"])
            assert response.status_code in (200, 201), (path, response.get_json())
            assert len(begun) == 1, (method, path, len(begun))
    finally:
        event.remove(engine, "begin", record)
    assert client.get(f"/api/articles/{slug}").get_json()["article"]["tagList"] == ["y", "z"]
