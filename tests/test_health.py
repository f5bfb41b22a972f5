"""Liveness and readiness probes, and how an unavailable or exhausted database is answered."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session

from config import TestConfig, engine_options
from tests.test_errors import assert_error_shape
from webapp.app import create_app
from webapp.extensions import db

# The probes and the outage answers are behaviour: tests that use `client` run against both apps.
pytestmark = pytest.mark.contract


def unreachable_url(database_url: str) -> str:
    """A database URL of the same kind that cannot be connected to."""
    if "postgresql" in database_url:
        return "postgresql+psycopg://postgres@127.0.0.1:9/none"  # nothing listens on port 9
    return "sqlite:////nonexistent-dir/x.db"


def test_probes_answer_ok(client, statements):
    with statements as s:
        assert client.get("/healthz").get_json() == {"status": "ok"}
    assert s.count == 0
    with statements as s:
        response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert s.count == 1


def test_probes_live_outside_the_api_prefix(client):
    assert client.get("/api/healthz").status_code == 404


def test_liveness_needs_no_database_but_readiness_does(database_url):
    # Building the app touches no database, so it succeeds even when none is reachable.
    app = create_app(TestConfig, {"SQLALCHEMY_DATABASE_URI": unreachable_url(database_url)})
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    response = client.get("/readyz")
    assert_error_shape(response, 503)
    assert int(response.headers["Retry-After"]) > 0


LOGIN = {"user": {"email": "nobody@example.com", "password": "password1"}}


@pytest.mark.usefixtures("_schema")
@pytest.mark.parametrize(
    ("method", "path", "served"),
    [("get", "/readyz", 200), ("post", "/api/users/login", 401), ("get", "/api/articles", 200)],
)
def test_an_exhausted_pool_answers_503_after_the_pool_timeout(database_url, method, path, served):
    options = {**engine_options(database_url), "pool_size": 1, "max_overflow": 0}
    options["pool_timeout"] = 1
    app = create_app(
        TestConfig, {"SQLALCHEMY_DATABASE_URI": database_url, "SQLALCHEMY_ENGINE_OPTIONS": options}
    )
    client = app.test_client()
    with app.app_context():
        held = db.engine.connect()  # the only connection, busy elsewhere
    try:
        started = time.monotonic()
        response = getattr(client, method)(path, json=LOGIN)
        waited = time.monotonic() - started
    finally:
        held.close()
    assert_error_shape(response, 503)
    assert response.headers["Retry-After"]
    assert waited >= 1  # it waited for the pool, then gave up
    # Once the connection is back, the same request is served.
    assert getattr(client, method)(path, json=LOGIN).status_code == served
    with app.app_context():
        db.engine.dispose()


def test_a_connection_lost_after_the_response_keeps_the_response(client, make_user, monkeypatch):
    jake = make_user("jake")
    real_close = Session.close
    failures = []

    def close_on_a_dead_connection(self):
        real_close(self)
        if not failures:  # the first close fails, as ROLLBACK does on a connection cut mid-way
            failures.append(self)
            raise sa_exc.OperationalError("ROLLBACK", {}, Exception("server closed the connection"))

    monkeypatch.setattr(Session, "close", close_on_a_dead_connection)
    response = client.get("/api/user", headers=jake["headers"])
    assert response.status_code == 200
    assert response.get_json()["user"]["username"] == "jake"
    assert failures
    assert client.get("/api/user", headers=jake["headers"]).status_code == 200
