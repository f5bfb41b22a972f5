"""gunicorn.conf.py: settings from the environment, pool sized by threads, engines reset on fork."""

from __future__ import annotations

import os
import runpy
from pathlib import Path
from types import SimpleNamespace

import pytest

from config import engine_options
from webapp.extensions import db

CONF = Path(__file__).resolve().parent.parent / "gunicorn.conf.py"


@pytest.fixture
def environment(monkeypatch):
    """A clean slate for the variables gunicorn.conf.py reads or sets."""
    for name in ("HOST", "PORT", "WEB_CONCURRENCY", "THREADS", "DB_POOL_SIZE", "DB_MAX_OVERFLOW"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_defaults_suit_a_small_machine(environment):
    conf = runpy.run_path(str(CONF))
    assert conf["bind"] == "127.0.0.1:8000"
    assert conf["workers"] == 2
    assert conf["threads"] == 4
    assert conf["preload_app"] is True
    assert conf["graceful_timeout"] > 0
    assert conf["max_requests"] > conf["max_requests_jitter"] > 0


def test_bind_workers_and_pool_follow_the_environment(environment):
    environment.setenv("HOST", "0.0.0.0")
    environment.setenv("PORT", "9123")
    environment.setenv("WEB_CONCURRENCY", "3")
    environment.setenv("THREADS", "6")
    conf = runpy.run_path(str(CONF))
    assert conf["bind"] == "0.0.0.0:9123"
    assert conf["workers"] == 3
    assert conf["threads"] == 6
    options = engine_options("postgresql+psycopg://u@h/d")
    assert options["pool_size"] == 6  # one connection per request thread
    assert options["max_overflow"] == 0
    assert os.environ["DB_POOL_SIZE"] == "6"


def test_an_explicit_pool_size_wins(environment):
    environment.setenv("THREADS", "6")
    environment.setenv("DB_POOL_SIZE", "2")
    runpy.run_path(str(CONF))
    assert engine_options("postgresql+psycopg://u@h/d")["pool_size"] == 2


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
