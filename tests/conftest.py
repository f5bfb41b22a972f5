"""Fixtures: one schema per test session (built by the migrations), a fresh app per test,
tables emptied after each test, and a counter of the SQL statements a request issues.

Test modules marked `contract` describe the API's behaviour: their `client` is parametrized over
both apps, the Flask app and the FastAPI variant (fastapi_variant/), on the same database."""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import event, inspect, text

from config import TestConfig, normalize_database_url
from webapp.app import create_app
from webapp.extensions import db


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """TEST_DATABASE_URL (PostgreSQL in CI) or a throwaway SQLite file."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return normalize_database_url(url)
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


def make_app(database_url: str, **overrides: Any) -> Flask:
    """A new app on the test database."""
    return create_app(TestConfig, {"SQLALCHEMY_DATABASE_URI": database_url, **overrides})


@pytest.fixture(scope="session")
def _schema(database_url: str) -> None:
    """Build the schema once with the real migrations, from an empty database."""
    app = make_app(database_url)
    with app.app_context():
        drop_everything()
        upgrade()
        db.session.remove()
        db.engine.dispose()


def drop_everything() -> None:
    """Drop every table, alembic's included (the database may hold an earlier run's schema)."""
    db.session.remove()
    with db.engine.begin() as conn:
        db.metadata.drop_all(conn)
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))


def truncate_all() -> None:
    """Empty every table; faster than rebuilding the schema and safe on both databases."""
    db.session.remove()
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for name in tables:
                conn.execute(text(f"DELETE FROM {name}"))


@pytest.fixture
def app(database_url: str, _schema: None) -> Iterator[Flask]:
    """A fresh app per test; its tables are emptied and its engine disposed afterwards."""
    app = make_app(database_url)
    yield app
    with app.app_context():
        truncate_all()
        db.engine.dispose()


APPS = ("flask", "fastapi")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """In `contract` modules every test that uses the client runs once per app."""
    marker = metafunc.definition.get_closest_marker
    if "app_kind" in metafunc.fixturenames and marker("contract") and not marker("flask_only"):
        metafunc.parametrize("app_kind", APPS, indirect=True)


@pytest.fixture
def app_kind(request: pytest.FixtureRequest) -> str:
    """Which app the client talks to: "flask" unless a contract test is parametrized."""
    return getattr(request, "param", "flask")


@pytest.fixture(scope="session")
def fastapi_app(database_url: str, _schema: None) -> Iterator[Any]:
    """The FastAPI variant on the test database, with the test settings.

    Its settings are read once, when it is imported: the environment is set for the import only.
    """
    env = {
        "APP_ENV": "testing",
        "DATABASE_URL": database_url,
        "SECRET_KEY": TestConfig.SECRET_KEY,
        "ARGON2_TIME_COST": str(TestConfig.ARGON2_TIME_COST),
        "ARGON2_MEMORY_COST": str(TestConfig.ARGON2_MEMORY_COST),
        "ARGON2_PARALLELISM": str(TestConfig.ARGON2_PARALLELISM),
        "ARGON2_MAX_CONCURRENCY": str(TestConfig.ARGON2_MAX_CONCURRENCY),
        "ARGON2_WAIT_MS": str(TestConfig.ARGON2_WAIT_MS),
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        from fastapi_variant.main import app

    yield app
    from fastapi_variant.database import engine

    engine.dispose()


class FastAPIResponse:
    """An httpx response seen through the Flask test response's interface."""

    def __init__(self, response: Any) -> None:
        self.response = response
        self.status_code: int = response.status_code
        self.headers = response.headers

    @property
    def is_json(self) -> bool:
        return self.headers.get("content-type", "").startswith("application/json")

    def get_json(self) -> Any:
        return self.response.json() if self.is_json else None

    def get_data(self, as_text: bool = False) -> str | bytes:
        return self.response.text if as_text else self.response.content


class FastAPIClient:
    """The FastAPI TestClient with the Flask test client's call signature (json=, data=,
    content_type=, headers=, query_string=), so one test body drives both apps."""

    def __init__(self, app: Any) -> None:
        from fastapi.testclient import TestClient

        # Unhandled errors become the 500 response, as a server would send, instead of raising.
        self.client = TestClient(app, raise_server_exceptions=False)

    def open(
        self,
        path: str,
        method: str = "GET",
        *,
        json: Any = None,
        data: str | bytes | None = None,
        content_type: str | None = None,
        headers: dict[str, str] | None = None,
        query_string: dict[str, Any] | None = None,
    ) -> FastAPIResponse:
        headers = dict(headers or {})
        if content_type is not None:
            headers["Content-Type"] = content_type
        content = data.encode() if isinstance(data, str) else data
        response = self.client.request(
            method, path, json=json, content=content, headers=headers, params=query_string
        )
        return FastAPIResponse(response)

    def get(self, path: str, **kwargs: Any) -> FastAPIResponse:
        return self.open(path, "GET", **kwargs)

    def post(self, path: str, **kwargs: Any) -> FastAPIResponse:
        return self.open(path, "POST", **kwargs)

    def put(self, path: str, **kwargs: Any) -> FastAPIResponse:
        return self.open(path, "PUT", **kwargs)

    def delete(self, path: str, **kwargs: Any) -> FastAPIResponse:
        return self.open(path, "DELETE", **kwargs)

    def options(self, path: str, **kwargs: Any) -> FastAPIResponse:
        return self.open(path, "OPTIONS", **kwargs)


@pytest.fixture
def client(app: Flask, app_kind: str, request: pytest.FixtureRequest) -> Iterator[Any]:
    """HTTP client for the app under test (both apps share the database that `app` empties)."""
    if app_kind != "fastapi":
        yield app.test_client()
        return
    yield FastAPIClient(request.getfixturevalue("fastapi_app"))
    from fastapi_variant.database import engine

    # Like the Flask app's engine after each test: no pooled connection outlives the test.
    engine.dispose()


_counter = itertools.count(1)


class UserFactory:
    """Registers users through the API and returns their token and auth headers."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def __call__(
        self, username: str | None = None, password: str = "password123"
    ) -> dict[str, Any]:
        username = username or f"user{next(_counter)}"
        payload = {
            "user": {"username": username, "email": f"{username}@example.com", "password": password}
        }
        response = self.client.post("/api/users", json=payload)
        assert response.status_code == 201, response.get_json()
        user = response.get_json()["user"]
        user["password"] = password
        user["headers"] = {"Authorization": f"Token {user['token']}"}
        return user


@pytest.fixture
def make_user(client: Any) -> UserFactory:
    """Factory: make_user("alice") registers alice and returns her user with headers."""
    return UserFactory(client)


class StatementCounter:
    """Counts SQL statements sent through the app's engine while active."""

    def __init__(self) -> None:
        self.statements: list[str] = []
        self.active = False

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if self.active:
            self.statements.append(statement)

    def __enter__(self) -> StatementCounter:
        self.statements.clear()
        self.active = True
        return self

    def __exit__(self, *exc: object) -> None:
        self.active = False

    @property
    def count(self) -> int:
        """Statements seen in the last `with` block."""
        return len(self.statements)


@pytest.fixture
def app_engine(app: Flask, app_kind: str, client: Any) -> Any:
    """The engine of the app under test: the Flask app's, or the variant's (one per process)."""
    if app_kind == "fastapi":
        from fastapi_variant.database import engine

        return engine
    with app.app_context():
        return db.engine


@pytest.fixture
def statements(app_engine: Any) -> Iterator[StatementCounter]:
    """`with statements as s: client.get(...)`, then `s.count` is that request's SQL statements."""
    counter = StatementCounter()
    engine = app_engine
    event.listen(engine, "before_cursor_execute", counter)
    yield counter
    event.remove(engine, "before_cursor_execute", counter)


def table_names(app: Flask) -> set[str]:
    """Tables present in the test database."""
    with app.app_context():
        return set(inspect(db.engine).get_table_names())


def browser_tests_enabled() -> bool:
    """BROWSER_TESTS=1 (.ci/run sets it) or 0 decides; unset, they run where Chromium is."""
    setting = os.environ.get("BROWSER_TESTS", "").strip()
    if setting:
        return setting == "1"
    return bool(shutil.which("chromium") and shutil.which("chromedriver"))


def redis_url() -> str:
    """The Redis the `redis` tests use: TEST_REDIS_URL, or db 9 of a local server."""
    return os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/9")


def redis_tests_enabled() -> bool:
    """TEST_REDIS_URL set (.ci/run sets it) runs them; unset, they run where Redis answers."""
    if os.environ.get("TEST_REDIS_URL"):
        return True
    try:
        with redis.Redis.from_url(redis_url(), socket_connect_timeout=0.5) as server:
            return bool(server.ping())
    except redis.RedisError:
        return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect, never skip: `postgres` tests without TEST_DATABASE_URL, `browser` tests
    without Chromium (see browser_tests_enabled), `redis` tests without Redis and `cluster`
    tests without CLUSTER_URL (a running `make cluster`); CI enables all four, so there they must
    pass."""
    unwanted = set()
    if not os.environ.get("CLUSTER_URL"):
        unwanted.add("cluster")
    if not os.environ.get("TEST_DATABASE_URL"):
        unwanted.add("postgres")
    if not browser_tests_enabled():
        unwanted.add("browser")
    if not redis_tests_enabled():
        unwanted.add("redis")
    deselected = [item for item in items if any(item.get_closest_marker(name) for name in unwanted)]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if item not in deselected]


class ArticleFactory:
    """Publishes articles through the API as a given user and returns the article."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def __call__(self, author: dict[str, Any], title: str | None = None, **fields: Any) -> dict:
        article = {
            "title": title or f"Article {next(_counter)}",
            "description": "About it",
            "body": "The body.",
            **fields,
        }
        response = self.client.post(
            "/api/articles", json={"article": article}, headers=author["headers"]
        )
        assert response.status_code == 201, response.get_json()
        return response.get_json()["article"]


@pytest.fixture
def make_article(client: Any) -> ArticleFactory:
    """Factory: make_article(jake, "Title", tagList=[...]) publishes as jake."""
    return ArticleFactory(client)
