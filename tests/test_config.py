"""Settings: read once from the environment, typed and checked; secret key; engine options."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from flask_migrate import upgrade

from config import (
    Config,
    ServerConfig,
    SettingError,
    engine_options,
    load,
    normalize_database_url,
    worker_pool,
)
from tests.conftest import make_app
from webapp.app import create_app
from webapp.extensions import db

ROOT = Path(__file__).resolve().parent.parent


class Production(Config):
    APP_ENV = "production"
    SQLALCHEMY_DATABASE_URI = "sqlite:///unused.db"


@pytest.mark.parametrize("key", [None, "", "dev", "change-me", "short-but-random-Zx81"])
def test_production_refuses_a_missing_or_weak_secret_key(key):
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(Production, {"SECRET_KEY": key})


def test_production_accepts_a_strong_secret_key():
    key = "k" * 16 + "Zq81-random-enough-xx"
    assert create_app(Production, {"SECRET_KEY": key}).config["SECRET_KEY"] == key


def test_development_generates_and_keeps_a_secret_key(tmp_path):
    key_file = tmp_path / "secret_key"
    overrides = {"SECRET_KEY": None, "SECRET_KEY_FILE": str(key_file), "APP_ENV": "development"}
    first = create_app(Config, overrides).config["SECRET_KEY"]
    second = create_app(Config, overrides).config["SECRET_KEY"]
    assert len(first) >= 32
    assert first == second == key_file.read_text().strip()
    assert key_file.stat().st_mode & 0o077 == 0


def test_database_urls_use_psycopg3():
    assert normalize_database_url("postgres://u@h/d") == "postgresql+psycopg://u@h/d"
    assert normalize_database_url("postgresql://u@h/d") == "postgresql+psycopg://u@h/d"
    assert normalize_database_url("sqlite:///x.db") == "sqlite:///x.db"


def test_the_environment_is_read_into_the_config_typed():
    environ = {
        "DATABASE_URL": "postgres://u@h/d",
        "DB_POOL_SIZE": " 7 ",
        "DB_POOL_PRE_PING": "off",
        "CORS_ORIGINS": " https://a.example.com, ,https://b.example.com ",
        "LOG_FORMAT": "JSON",
        "LOG_LEVEL": "debug",
        "SECRET_KEY": "",
        "UNRELATED": "x",
    }
    settings = load(Config, environ=environ)
    assert settings["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@h/d"
    assert settings["DB_POOL_SIZE"] == 7
    assert settings["DB_POOL_PRE_PING"] is False
    assert settings["CORS_ORIGINS"] == ["https://a.example.com", "https://b.example.com"]
    assert (settings["LOG_FORMAT"], settings["LOG_LEVEL"]) == ("json", "DEBUG")
    assert settings["SECRET_KEY"] is None
    assert "UNRELATED" not in settings
    options = settings["SQLALCHEMY_ENGINE_OPTIONS"]
    assert (options["pool_size"], options["pool_pre_ping"]) == (7, False)


def test_every_annotated_setting_can_be_read_from_the_environment():
    # A setting declared with a type the parser does not know fails here, not in production.
    for config in (Config, ServerConfig):
        defaults = load(config, environ={})
        environ = {name: str(value) for name, value in defaults.items() if isinstance(value, int)}
        assert load(config, environ=environ).keys() == defaults.keys()


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("DB_POOL_SIZE", "abc", "DB_POOL_SIZE must be a whole number, not 'abc'"),
        ("DB_POOL_TIMEOUT", "2.5", "DB_POOL_TIMEOUT must be a whole number, not '2.5'"),
        ("PROXY_COUNT", "-1", "PROXY_COUNT must be 0 or more, not -1"),
        ("DB_POOL_PRE_PING", "maybe", "DB_POOL_PRE_PING must be true or false"),
        ("LOG_FORMAT", "xml", "LOG_FORMAT must be one of text, json, not 'xml'"),
    ],
)
def test_a_bad_value_is_an_error_naming_its_variable(monkeypatch, variable, value, message):
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingError) as raised:
        create_app(Config, {"SECRET_KEY": "k" * 40})
    assert str(raised.value).startswith(message)


def test_the_server_stops_on_a_bad_value_with_one_line(tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "DB_POOL_SIZE": "abc",
        "DATABASE_URL": f"sqlite:///{tmp_path}/x",
    }
    done = subprocess.run(
        [sys.executable, "-c", "import wsgi"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 1
    assert done.stderr.strip() == "Invalid setting: DB_POOL_SIZE must be a whole number, not 'abc'"


def test_overrides_set_any_engine_option(database_url):
    overrides = {"DB_POOL_SIZE": 2, "DB_MAX_OVERFLOW": 1, "DB_POOL_TIMEOUT": 1}
    app = make_app(database_url, **overrides)
    with app.app_context():
        pool = db.engine.pool
    assert (pool.size(), pool.timeout()) == (2, 1)
    assert app.config["SQLALCHEMY_ENGINE_OPTIONS"]["max_overflow"] == 1
    pool.dispose()


def test_engine_options_per_dialect():
    pg = engine_options("postgresql+psycopg://u@h/d")
    assert pg["connect_args"]["connect_timeout"] > 0
    assert "statement_timeout" in pg["connect_args"]["options"]
    assert pg["pool_pre_ping"] is True
    assert "timeout" in engine_options("sqlite:///x.db")["connect_args"]


def test_postgres_options_for_outages_and_pgbouncer():
    options = engine_options("postgresql+psycopg://u@h/d")
    assert options["hide_parameters"] is True  # no emails or hashes in error messages
    assert options["connect_args"]["tcp_user_timeout"] > 0
    assert "prepare_threshold" not in options["connect_args"]
    environ = {"DATABASE_URL": "postgresql://u@h/d", "DB_PREPARED_STATEMENTS": "false"}
    pgbouncer = load(Config, environ=environ)["SQLALCHEMY_ENGINE_OPTIONS"]
    assert pgbouncer["connect_args"]["prepare_threshold"] is None


def test_worker_pool_is_one_connection_per_thread_unless_set_explicitly():
    assert worker_pool(6, environ={}) == {"DB_POOL_SIZE": 6, "DB_MAX_OVERFLOW": 0}
    assert worker_pool(6, environ={"DB_POOL_SIZE": "2"}) == {"DB_MAX_OVERFLOW": 0}


def test_the_suites_apps_run_on_a_five_plus_five_pool(monkeypatch, database_url, app):
    """The race tests (tests/test_races.py) send up to 20 requests at once through this pool."""
    # Whatever a shell (or an earlier test) exports, TestConfig reads no environment.
    monkeypatch.setenv("DB_POOL_SIZE", "1")
    monkeypatch.setenv("DB_MAX_OVERFLOW", "0")
    for check in (app, make_app(database_url)):
        with check.app_context():
            assert db.engine.pool.size() == 5
            assert check.config["SQLALCHEMY_ENGINE_OPTIONS"]["max_overflow"] == 5
            db.engine.dispose()


def test_an_in_memory_sqlite_database_is_shared_by_every_thread(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "sqlite://")
    monkeypatch.setenv("ARGON2_MEMORY_COST", "8")
    monkeypatch.setenv("ARGON2_TIME_COST", "1")
    app = create_app(Config, {"SECRET_KEY": "k" * 40})
    with app.app_context():
        upgrade()
    user = {"username": "alice", "email": "alice@example.com", "password": "password123"}
    assert app.test_client().post("/api/users", json={"user": user}).status_code == 201
    with ThreadPoolExecutor(max_workers=2) as pool:
        responses = list(pool.map(lambda _: app.test_client().get("/api/profiles/alice"), range(4)))
    assert [r.status_code for r in responses] == [200] * 4
    with app.app_context():
        db.engine.dispose()
