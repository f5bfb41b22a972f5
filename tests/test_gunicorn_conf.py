"""gunicorn.conf.py: settings from the environment, pool sized by threads, engines reset on fork,
reads compiled before a worker serves."""

from __future__ import annotations

import gc
import itertools
import logging
import os
import runpy
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from gunicorn.config import Config

from tests.conftest import ArticleFactory, UserFactory, make_app
from webapp.core import queries
from webapp.core.database import _cursor_plan, session_rows
from webapp.extensions import db

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / "gunicorn.conf.py"
WSGI = ROOT / "wsgi.py"


@pytest.fixture
def environment(monkeypatch, tmp_path):
    """A clean slate for the variables gunicorn.conf.py and wsgi.py read."""
    for name in (
        "HOST",
        "PORT",
        "WEB_CONCURRENCY",
        "THREADS",
        "DB_POOL_SIZE",
        "DB_MAX_OVERFLOW",
        "GUNICORN_ACCESS_LOG",
        "GUNICORN_WORKER_CONNECTIONS",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'served.db'}")
    monkeypatch.setenv("SECRET_KEY", "k" * 40)
    return monkeypatch


def served_pool(conf: dict) -> tuple[int, int]:
    """Pool size and overflow of the app gunicorn serves: wsgi.py's, loaded next to conf."""
    options = runpy.run_path(str(WSGI))["app"].config["SQLALCHEMY_ENGINE_OPTIONS"]
    return options["pool_size"], options["max_overflow"]


def test_defaults_suit_a_small_machine(environment):
    conf = runpy.run_path(str(CONF))
    assert conf["bind"] == "127.0.0.1:8000"
    assert conf["workers"] == 2
    assert conf["threads"] == 4
    assert conf["preload_app"] is True
    assert conf["graceful_timeout"] > 0
    assert conf["max_requests"] > conf["max_requests_jitter"] > 0
    assert conf["accesslog"] == "-"  # one line per request on stderr
    assert served_pool(conf) == (4, 0)


def test_a_worker_holds_two_connections_per_thread_unless_told(environment):
    assert runpy.run_path(str(CONF))["worker_connections"] == 8
    environment.setenv("THREADS", "6")
    assert runpy.run_path(str(CONF))["worker_connections"] == 12
    environment.setenv("GUNICORN_WORKER_CONNECTIONS", "50")
    assert runpy.run_path(str(CONF))["worker_connections"] == 50


def access_lines_written(conf: dict[str, Any]) -> bool:
    """Whether the logger gunicorn builds from these settings writes access lines."""
    cfg = Config()
    for name, value in conf.items():
        if name in cfg.settings:
            cfg.set(name, value)
    logger = object.__new__(cfg.logger_class)  # not set up: the tests' logging stays as it is
    logger.cfg = cfg
    return bool(logger.access_log_enabled)


def test_the_access_log_can_be_turned_off(environment):
    assert access_lines_written(runpy.run_path(str(CONF)))  # on by default
    environment.setenv("GUNICORN_ACCESS_LOG", "false")
    conf = runpy.run_path(str(CONF))
    # logconfig_dict alone would have turned gunicorn's own logger's access lines on.
    assert conf["logconfig_dict"]
    assert not access_lines_written(conf)


def test_bind_workers_and_pool_follow_the_environment(environment):
    environment.setenv("HOST", "0.0.0.0")
    environment.setenv("PORT", "9123")
    environment.setenv("WEB_CONCURRENCY", "3")
    environment.setenv("THREADS", "6")
    before = dict(os.environ)
    conf = runpy.run_path(str(CONF))
    assert conf["bind"] == "0.0.0.0:9123"
    assert conf["workers"] == 3
    assert conf["threads"] == 6
    assert served_pool(conf) == (6, 0)  # one connection per request thread
    assert dict(os.environ) == before  # decided without writing the environment


def test_an_explicit_pool_size_wins(environment):
    environment.setenv("THREADS", "6")
    environment.setenv("DB_POOL_SIZE", "2")
    assert served_pool(runpy.run_path(str(CONF))) == (2, 0)


def test_a_bad_value_stops_gunicorn_with_one_line(environment):
    environment.setenv("THREADS", "four")
    with pytest.raises(SystemExit, match=r"^Invalid setting: THREADS must be a whole number"):
        runpy.run_path(str(CONF))


def test_post_fork_gives_the_worker_fresh_pools(environment, app):
    conf = runpy.run_path(str(CONF))
    with app.app_context():
        engine = db.engine
        inherited = engine.pool
        with engine.connect():
            pass  # the "master" has pooled a connection
    conf["post_fork"](SimpleNamespace(app=SimpleNamespace(wsgi=lambda: app)), None)
    assert engine.pool is not inherited
    assert engine.pool.checkedin() == 0
    assert inherited.checkedin() == 1  # left alone: in a real fork it belongs to the master
    inherited.dispose()


def test_pre_fork_freezes_the_loaded_app(environment):
    # Objects alive in the arbiter before a fork are left out of the worker's collections.
    conf = runpy.run_path(str(CONF))
    gc.unfreeze()
    try:
        conf["pre_fork"](None, None)
        assert gc.get_freeze_count() > 10_000
        before = gc.get_freeze_count()
        conf["pre_fork"](None, None)  # each worker's fork: idempotent
        assert gc.get_freeze_count() >= before
    finally:
        gc.unfreeze()


def worker_of(app: Any) -> SimpleNamespace:
    """What post_worker_init is given: a worker whose app loads `app`."""
    return SimpleNamespace(app=SimpleNamespace(wsgi=lambda: app))


def test_post_worker_init_plans_every_read_the_api_runs(environment, app, monkeypatch):
    # A new worker's first request of each shape found its statement compiled already.
    client = app.test_client()
    reader = UserFactory(client)("reader")
    slug = ArticleFactory(client)(reader, "Warm", tagList=["t"])["slug"]
    conf = runpy.run_path(str(CONF))
    conf["post_worker_init"](worker_of(app))
    # From here on nothing compiles: not the requests (on PostgreSQL they look their plans up),
    # not the lookups below of every statement they ran.
    misses = _cursor_plan.cache_info().misses

    ran: list[Any] = []

    def recording(session: Any, statement: Any, params: Any) -> Any:
        ran.append(statement)
        return session_rows(session, statement, params)

    monkeypatch.setattr(queries, "session_rows", recording)
    filters = {"tag": "t", "author": "reader", "favorited": "reader"}
    for headers in ({}, reader["headers"]):
        for size in range(len(filters) + 1):
            for names in itertools.combinations(filters, size):
                query = "&".join(f"{name}={filters[name]}" for name in names)
                assert client.get(f"/api/articles?{query}", headers=headers).status_code == 200
        for path in (
            f"/api/articles/{slug}",
            f"/api/articles/{slug}/comments",
            "/api/profiles/reader",
        ):
            assert client.get(path, headers=headers).status_code == 200
    assert client.get("/api/tags").status_code == 200
    assert client.get("/api/articles/feed", headers=reader["headers"]).status_code == 200
    assert len({id(statement) for statement in ran}) == 2 * (8 + 3) + 2

    with app.app_context():
        dialect = db.engine.dialect
    for statement in ran:
        _cursor_plan(statement, dialect)
    assert _cursor_plan.cache_info().misses == misses


def test_post_worker_init_without_a_database_lets_the_worker_start(
    environment, database_url, caplog
):
    if database_url.startswith("sqlite"):
        unreachable = "sqlite:////nonexistent-directory/conduit.db"
    else:
        unreachable = "postgresql+psycopg://postgres@127.0.0.1:1/conduit"
    app = make_app(unreachable)
    conf = runpy.run_path(str(CONF))
    with caplog.at_level(logging.WARNING, logger="webapp.extensions"):
        conf["post_worker_init"](worker_of(app))  # does not raise: requests compile instead
    assert "statements left to compile on first use" in caplog.text
