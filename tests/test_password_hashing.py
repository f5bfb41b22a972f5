"""Password hashing can't starve the service: bounded per process, shed with 503 beyond that, never
inside a database transaction, and never cheaper than OWASP's argon2id minimum."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from argon2 import Type
from flask import Flask
from flask.testing import FlaskClient

from config import Config
from tests.conftest import UserFactory, make_app
from webapp.core import security
from webapp.extensions import db


@pytest.fixture
def hashing_app(database_url: str, app: Flask) -> Iterator[Callable[..., Flask]]:
    """hashing_app(ARGON2_...=...) -> a new app (the `app` fixture empties the tables after)."""
    built: list[Flask] = []

    def build(**overrides: Any) -> Flask:
        built.append(make_app(database_url, **overrides))
        return built[-1]

    yield build
    for each in built:
        with each.app_context():
            db.engine.dispose()


def login(client: FlaskClient, email: str, password: str) -> Any:
    return client.post("/api/users/login", json={"user": {"email": email, "password": password}})


def assert_busy(response: Any) -> None:
    assert response.status_code == 503, response.get_json()
    assert response.headers["Retry-After"] == "1"
    assert response.get_json() == {"errors": {"body": ["The server is busy; try again shortly."]}}


@contextmanager
def slots_taken(hasher: security.BoundedPasswordHasher) -> Iterator[None]:
    """Another thread holds the hasher's one slot meanwhile (as a login hashing would)."""
    taken, release = threading.Event(), threading.Event()

    def hold() -> None:
        with hasher.slot():
            taken.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    assert taken.wait(10)
    try:
        yield
    finally:
        release.set()
        holder.join()


def test_beyond_hashing_capacity_is_503_at_once(hashing_app):
    app = hashing_app(ARGON2_MAX_CONCURRENCY=1, ARGON2_WAIT_MS=50)
    client = app.test_client()
    jake = UserFactory(client)("jake", password="jakejake")
    new_user = {"user": {"username": "jane", "email": "jane@example.com", "password": "janejane"}}
    change = {"user": {"password": "newpassword"}}

    with slots_taken(app.extensions["password_hasher"]):
        started = time.monotonic()
        assert_busy(login(client, "jake@example.com", "jakejake"))
        assert_busy(login(client, "nobody@example.com", "whatever"))
        assert_busy(client.post("/api/users", json=new_user))
        assert_busy(client.put("/api/user", json=change, headers=jake["headers"]))
        assert time.monotonic() - started < 2  # four answers, none queued behind the hash

    # Nothing was half done, and the slot serves the next caller.
    assert login(client, "jane@example.com", "janejane").status_code == 401
    assert login(client, "jake@example.com", "jakejake").status_code == 200


def test_concurrent_logins_beyond_capacity_are_shed_not_queued(hashing_app):
    # A realistic cost (RFC 9106's second profile), so each hash holds its slot a while.
    app = hashing_app(
        ARGON2_MAX_CONCURRENCY=1,
        ARGON2_WAIT_MS=20,
        ARGON2_TIME_COST=3,
        ARGON2_MEMORY_COST=64 * 1024,
    )
    UserFactory(app.test_client())("jake", password="jakejake")
    callers = 6
    barrier = threading.Barrier(callers)
    statuses: list[int] = []

    def attempt() -> None:
        client = app.test_client()
        barrier.wait()
        statuses.append(login(client, "jake@example.com", "jakejake").status_code)

    threads = [threading.Thread(target=attempt) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert set(statuses) <= {200, 503}
    assert statuses.count(200) >= 1
    assert statuses.count(503) >= 1


def test_hashing_never_runs_inside_a_database_transaction(hashing_app):
    app = hashing_app()
    seen: list[tuple[str, bool]] = []

    class Observed(security.BoundedPasswordHasher):
        def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
            seen.append(("hash", db.session().in_transaction()))
            return super().hash(password, salt=salt)

        def verify(self, hash: str | bytes, password: str | bytes) -> Any:
            seen.append(("verify", db.session().in_transaction()))
            return super().verify(hash, password)

    app.extensions["password_hasher"] = Observed(time_cost=1, memory_cost=8, parallelism=1)
    client = app.test_client()
    jake = UserFactory(client)("jake", password="jakejake")
    assert login(client, "jake@example.com", "jakejake").status_code == 200
    assert login(client, "jake@example.com", "wrong").status_code == 401
    assert login(client, "nobody@example.com", "wrong").status_code == 401
    change = {"user": {"password": "otherpassword"}}
    changed = client.put("/api/user", json=change, headers=jake["headers"])
    assert changed.status_code == 200

    assert [kind for kind, _ in seen].count("verify") == 3
    assert [kind for kind, _ in seen].count("hash") >= 2  # registration, change (+ dummy hash)
    assert not any(in_transaction for _, in_transaction in seen), seen
    assert login(client, "jake@example.com", "otherpassword").status_code == 200


def test_default_cost_is_argon2id_at_or_above_the_owasp_minimum():
    hasher = security.make_hasher(
        Config.ARGON2_TIME_COST, Config.ARGON2_MEMORY_COST, Config.ARGON2_PARALLELISM
    )
    assert hasher.type is Type.ID
    # OWASP Password Storage Cheat Sheet: m=19 MiB, t=2, p=1 at least (more memory may trade t).
    assert Config.ARGON2_MEMORY_COST >= 19 * 1024
    assert Config.ARGON2_MEMORY_COST * Config.ARGON2_TIME_COST >= 19 * 1024 * 2
    assert hasher.hash("x").startswith("$argon2id$")
    assert Config.ARGON2_MAX_CONCURRENCY >= 1
