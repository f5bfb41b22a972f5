"""Rate limits: logins and registrations per client address and per account, writes per user;
429 in the error shape with Retry-After; memory by default, Redis shared between app instances."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

import config
from tests.conftest import UserFactory, make_app, redis_url
from webapp.extensions import db

NO_LIMIT = ""
ALL_OFF = {
    "RATELIMIT_LOGIN_PER_IP": NO_LIMIT,
    "RATELIMIT_LOGIN_PER_ACCOUNT": NO_LIMIT,
    "RATELIMIT_REGISTER_PER_IP": NO_LIMIT,
    "RATELIMIT_WRITES_PER_USER": NO_LIMIT,
}


@pytest.fixture
def limited(database_url: str, app: Flask) -> Iterator[Callable[..., FlaskClient]]:
    """limited(RATELIMIT_...=...) -> a client of a new app with limiting on and only the given
    limits set (the `app` fixture empties the tables afterwards)."""
    built: list[Flask] = []

    def build(**overrides: Any) -> FlaskClient:
        new = make_app(database_url, **{"RATELIMIT_ENABLED": True, **ALL_OFF, **overrides})
        built.append(new)
        return new.test_client()

    yield build
    for each in built:
        with each.app_context():
            db.engine.dispose()


def login(client: FlaskClient, email: str, password: str, address: str | None = None) -> Any:
    headers = {"X-Forwarded-For": address} if address else {}
    body = {"user": {"email": email, "password": password}}
    return client.post("/api/users/login", json=body, headers=headers)


def assert_limited(response: Any, window_seconds: int) -> None:
    """429 in the error shape, told to come back within the window."""
    assert response.status_code == 429, response.get_json()
    body = response.get_json()
    assert set(body) == {"errors"}
    assert body["errors"]["body"]
    assert all(isinstance(message, str) for message in body["errors"]["body"])
    assert 1 <= int(response.headers["Retry-After"]) <= window_seconds


def test_logins_are_limited_per_client_address(limited):
    client = limited(RATELIMIT_LOGIN_PER_IP="3 per minute")
    UserFactory(client)("jake", password="jakejake")
    for n in range(3):
        assert login(client, f"nobody{n}@example.com", "wrong").status_code == 401

    assert_limited(login(client, "nobody9@example.com", "wrong"), 60)
    # Even the right password: the address has spent its budget.
    assert_limited(login(client, "jake@example.com", "jakejake"), 60)


def test_behind_a_proxy_each_forwarded_address_has_its_own_budget(limited):
    client = limited(RATELIMIT_LOGIN_PER_IP="2 per minute", PROXY_COUNT=1)
    for _ in range(2):
        assert login(client, "a@example.com", "wrong", "203.0.113.1").status_code == 401
    assert_limited(login(client, "a@example.com", "wrong", "203.0.113.1"), 60)

    assert login(client, "a@example.com", "wrong", "203.0.113.2").status_code == 401


def test_without_proxy_count_a_forged_forwarded_address_does_not_help(limited):
    client = limited(RATELIMIT_LOGIN_PER_IP="2 per minute", PROXY_COUNT=0)
    for n in range(2):
        assert login(client, "a@example.com", "wrong", f"198.51.100.{n}").status_code == 401

    assert_limited(login(client, "a@example.com", "wrong", "198.51.100.77"), 60)


def test_failed_logins_are_limited_per_account_from_any_address(limited):
    client = limited(RATELIMIT_LOGIN_PER_ACCOUNT="3 per minute", PROXY_COUNT=1)
    make_user = UserFactory(client)
    make_user("jake", password="jakejake")
    make_user("jane", password="janejane")
    for n in range(3):
        wrong = login(client, "jake@example.com", f"guess{n}", f"203.0.113.{n}")
        assert wrong.status_code == 401

    # The right password from a fresh address is refused too, whatever the email's case.
    assert_limited(login(client, "jake@example.com", "jakejake", "203.0.113.50"), 60)
    assert_limited(login(client, "JAKE@Example.COM", "jakejake", "203.0.113.51"), 60)
    # Other accounts are untouched.
    assert login(client, "jane@example.com", "janejane", "203.0.113.1").status_code == 200


def test_successful_logins_do_not_spend_the_account_budget(limited):
    client = limited(RATELIMIT_LOGIN_PER_ACCOUNT="2 per minute")
    UserFactory(client)("jake", password="jakejake")
    for _ in range(5):
        assert login(client, "jake@example.com", "jakejake").status_code == 200


def test_registrations_are_limited_per_client_address(limited):
    client = limited(RATELIMIT_REGISTER_PER_IP="2 per minute")
    make_user = UserFactory(client)
    make_user("one")
    make_user("two")
    payload = {"user": {"username": "three", "email": "three@example.com", "password": "pw123456"}}

    assert_limited(client.post("/api/users", json=payload), 60)
    assert login(client, "three@example.com", "pw123456").status_code == 401  # not created


def test_writes_are_limited_per_user(limited):
    client = limited(RATELIMIT_WRITES_PER_USER="3 per minute")
    make_user = UserFactory(client)
    jake, jane = make_user("jake"), make_user("jane")
    article = {"article": {"title": "T", "description": "D", "body": "B"}}
    for _ in range(2):
        created = client.post("/api/articles", json=article, headers=jake["headers"])
        assert created.status_code == 201
    changed = client.put("/api/user", json={"user": {"bio": "hi"}}, headers=jake["headers"])
    assert changed.status_code == 200

    assert_limited(client.post("/api/articles", json=article, headers=jake["headers"]), 60)
    assert_limited(
        client.put("/api/user", json={"user": {"bio": "again"}}, headers=jake["headers"]), 60
    )
    # Reads are not writes; other users have their own budget.
    assert client.get("/api/articles", headers=jake["headers"]).get_json()["articlesCount"] == 2
    assert client.get("/api/user", headers=jake["headers"]).get_json()["user"]["bio"] == "hi"
    assert client.post("/api/articles", json=article, headers=jane["headers"]).status_code == 201


def test_a_bad_token_on_a_write_is_still_401(limited):
    client = limited(RATELIMIT_WRITES_PER_USER="1 per minute")
    article = {"article": {"title": "T", "description": "D", "body": "B"}}
    for _ in range(3):
        response = client.post(
            "/api/articles", json=article, headers={"Authorization": "Token not-a-jwt"}
        )
        assert response.status_code == 401


def test_each_app_instance_counts_alone_in_memory(limited):
    """The default storage is per process: another host (here, another app) has its own count."""
    first = limited(RATELIMIT_LOGIN_PER_IP="2 per minute")
    second = limited(RATELIMIT_LOGIN_PER_IP="2 per minute")
    for _ in range(2):
        assert login(first, "a@example.com", "wrong").status_code == 401
    assert login(first, "a@example.com", "wrong").status_code == 429

    assert login(second, "a@example.com", "wrong").status_code == 401


def test_an_unreachable_storage_never_fails_a_request(limited):
    """Redis down (nothing listens on port 1): the limits are counted in memory meanwhile."""
    client = limited(
        RATELIMIT_LOGIN_PER_IP="2 per minute", RATELIMIT_STORAGE_URI="redis://127.0.0.1:1/0"
    )
    for _ in range(2):
        assert login(client, "a@example.com", "wrong").status_code == 401
    assert_limited(login(client, "a@example.com", "wrong"), 60)


def test_a_malformed_limit_fails_at_startup(database_url, app):
    with pytest.raises(ValueError, match="RATELIMIT_LOGIN_PER_IP='3 per fortnight'"):
        make_app(database_url, RATELIMIT_ENABLED=True, RATELIMIT_LOGIN_PER_IP="3 per fortnight")


@pytest.fixture
def fresh_config() -> Callable[[], SimpleNamespace]:
    """The settings config.load() reads for Config from the (patched) environment."""
    return lambda: SimpleNamespace(**config.load(config.Config))


def test_ratelimit_enabled_false_in_the_environment_turns_limiting_off(
    limited, monkeypatch, fresh_config
):
    monkeypatch.setenv("RATELIMIT_ENABLED", "false")
    monkeypatch.setenv("RATELIMIT_LOGIN_PER_IP", "1 per minute")
    settings = fresh_config()
    assert settings.RATELIMIT_ENABLED is False
    assert settings.RATELIMIT_LOGIN_PER_IP == "1 per minute"
    off = limited(
        RATELIMIT_ENABLED=settings.RATELIMIT_ENABLED,
        RATELIMIT_LOGIN_PER_IP=settings.RATELIMIT_LOGIN_PER_IP,
    )
    for _ in range(3):
        assert login(off, "a@example.com", "wrong").status_code == 401


def test_limits_are_on_by_default_with_memory_storage(monkeypatch, fresh_config):
    for name in ("RATELIMIT_ENABLED", "RATELIMIT_STORAGE_URI", *ALL_OFF):
        monkeypatch.delenv(name, raising=False)
    settings = fresh_config()
    assert settings.RATELIMIT_ENABLED is True
    assert settings.RATELIMIT_STORAGE_URI == "memory://"
    assert all(getattr(settings, name) for name in ALL_OFF)


# --- Redis ---------------------------------------------------------------------------------------


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    prefix = f"test-{secrets.token_hex(6)}"
    yield prefix
    server = redis.Redis.from_url(redis_url())
    for key in server.scan_iter(match=f"*{prefix}*"):
        server.delete(key)
    server.close()


@pytest.mark.redis
def test_redis_storage_shares_one_budget_between_app_instances(limited, redis_prefix):
    """Two hosts on one Redis (here, two apps): the budget is spent once, not once per host."""
    settings = {
        "RATELIMIT_LOGIN_PER_IP": "3 per minute",
        "RATELIMIT_STORAGE_URI": redis_url(),
        "RATELIMIT_KEY_PREFIX": redis_prefix,
    }
    first, second = limited(**settings), limited(**settings)
    for client in (first, second, first):
        assert login(client, "a@example.com", "wrong").status_code == 401

    assert_limited(login(second, "a@example.com", "wrong"), 60)
    assert_limited(login(first, "a@example.com", "wrong"), 60)
    server = redis.Redis.from_url(redis_url())
    assert list(server.scan_iter(match=f"*{redis_prefix}*login-ip*"))  # counted in Redis
    server.close()


@pytest.mark.redis
def test_redis_storage_limits_accounts_and_writes(limited, redis_prefix):
    client = limited(
        RATELIMIT_LOGIN_PER_ACCOUNT="2 per minute",
        RATELIMIT_WRITES_PER_USER="2 per minute",
        RATELIMIT_STORAGE_URI=redis_url(),
        RATELIMIT_KEY_PREFIX=redis_prefix,
    )
    jake = UserFactory(client)("jake", password="jakejake")
    for _ in range(2):
        assert login(client, "jake@example.com", "wrong").status_code == 401
    assert_limited(login(client, "jake@example.com", "jakejake"), 60)

    for _ in range(2):
        changed = client.put("/api/user", json={"user": {"bio": "x"}}, headers=jake["headers"])
        assert changed.status_code == 200
    assert_limited(
        client.put("/api/user", json={"user": {"bio": "y"}}, headers=jake["headers"]), 60
    )
    # No email is written to the storage, only a digest of it.
    server = redis.Redis.from_url(redis_url())
    keys = [key.decode() for key in server.scan_iter(match=f"*{redis_prefix}*")]
    server.close()
    assert keys
    assert not any("jake" in key for key in keys)
