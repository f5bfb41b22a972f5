"""Settings: secret key handling and database URL normalisation."""

from __future__ import annotations

import pytest

from config import Config, engine_options, normalize_database_url
from webapp import create_app


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


def test_engine_options_per_dialect():
    pg = engine_options("postgresql+psycopg://u@h/d")
    assert pg["connect_args"]["connect_timeout"] > 0
    assert "statement_timeout" in pg["connect_args"]["options"]
    assert pg["pool_pre_ping"] is True
    assert "timeout" in engine_options("sqlite:///x.db")["connect_args"]


def test_postgres_options_for_outages_and_pgbouncer(monkeypatch):
    options = engine_options("postgresql+psycopg://u@h/d")
    assert options["hide_parameters"] is True  # no emails or hashes in error messages
    assert options["connect_args"]["tcp_user_timeout"] > 0
    assert "prepare_threshold" not in options["connect_args"]
    monkeypatch.setenv("DB_PREPARED_STATEMENTS", "false")
    pgbouncer = engine_options("postgresql+psycopg://u@h/d")
    assert pgbouncer["connect_args"]["prepare_threshold"] is None


def test_cors_origins_come_from_a_comma_separated_list(monkeypatch):
    from config import _list

    monkeypatch.setenv("CORS_ORIGINS", " https://a.example.com, ,https://b.example.com ")
    assert _list("CORS_ORIGINS") == ["https://a.example.com", "https://b.example.com"]
    monkeypatch.delenv("CORS_ORIGINS")
    assert _list("CORS_ORIGINS") == []
