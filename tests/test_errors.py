"""The error boundary: every failure is a GenericErrorModel body with the right status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest
from sqlalchemy import event
from sqlalchemy import exc as sa_exc

from webapp.errors import validation_errors
from webapp.extensions import db

# The API's behaviour: every test that uses `client` runs against both apps.
pytestmark = pytest.mark.contract

SECRET = "test-secret-key-that-is-long-enough-for-hs256"


def assert_error_shape(response, status):
    assert response.status_code == status
    assert response.is_json
    body = response.get_json()
    assert isinstance(body["errors"]["body"], list)
    assert body["errors"]["body"]
    assert all(
        isinstance(v, list) and all(isinstance(s, str) for s in v) for v in body["errors"].values()
    )
    return body


def token(claims, key=SECRET, algorithm="HS256"):
    return jwt.encode(claims, key, algorithm=algorithm)


def future():
    return datetime.now(UTC) + timedelta(hours=1)


@pytest.mark.parametrize(
    "header",
    [
        "Token",
        "Token ",
        "Bearer abc",
        "Token not-a-jwt",
        "Token " + token({"sub": "1", "exp": future()}, key="another-key-of-sufficient-length-32b"),
        "Token " + token({"sub": "1", "exp": datetime.now(UTC) - timedelta(seconds=5)}),
        "Token " + token({"sub": "1"}),  # no expiry
        "Token " + token({"exp": future()}),  # no subject
        "Token " + token({"sub": "abc", "exp": future()}),
        "Token " + token({"sub": "1", "exp": future()}, key=None, algorithm="none"),
        "Token " + token({"sub": "1", "exp": future()}, key=SECRET * 2, algorithm="HS512"),
    ],
)
def test_bad_tokens_are_401(client, make_user, header):
    make_user("jake")  # user id 1 exists, so only the token itself is wrong
    response = client.get("/api/user", headers={"Authorization": header})
    assert_error_shape(response, 401)


def test_tampered_token_is_401(client, make_user):
    jake = make_user("jake")
    head, _payload, signature = jake["token"].split(".")
    forged = jwt.utils.base64url_encode(b'{"sub":"2","exp":9999999999}').decode()
    response = client.get(
        "/api/user", headers={"Authorization": f"Token {head}.{forged}.{signature}"}
    )
    assert_error_shape(response, 401)


def test_token_of_a_vanished_user_is_401(client):
    response = client.get(
        "/api/user", headers={"Authorization": "Token " + token({"sub": "999", "exp": future()})}
    )
    assert_error_shape(response, 401)


def test_unknown_route_is_json_404(client):
    assert_error_shape(client.get("/api/nope"), 404)


def test_wrong_method_is_json_405(client):
    response = client.delete("/api/users")
    assert_error_shape(response, 405)
    assert "POST" in response.headers["Allow"]


def test_body_over_the_limit_is_413(client):
    big = "x" * (1024 * 1024 + 1)
    response = client.post("/api/users", data=big, content_type="application/json")
    assert_error_shape(response, 413)


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ("{not json", "application/json"),
        ("\xff\xfe", "application/json"),
        ("[]", "application/json"),
        ('"user"', "application/json"),
        ("{}", "application/json"),
        ('{"user": null}', "application/json"),
        ('{"user": []}', "application/json"),
        ("user=jake", "application/x-www-form-urlencoded"),
    ],
)
def test_malformed_bodies_are_422(client, data, content_type):
    assert_error_shape(client.post("/api/users", data=data, content_type=content_type), 422)


def test_huge_string_is_422(client):
    response = client.post(
        "/api/users",
        json={"user": {"username": "x" * 100_000, "email": "a@b.co", "password": "password1"}},
    )
    body = assert_error_shape(response, 422)
    assert "username" in body["errors"]


def registration_check(app_kind: str) -> str:
    """Where the app under test looks up ensure_available (each app imports the shared one)."""
    module = "fastapi_variant.api.users" if app_kind == "fastapi" else "webapp.api.users"
    return f"{module}.ensure_available"


def test_unexpected_exception_is_json_500_without_traceback(client, app_kind, monkeypatch, caplog):
    def explode(*args, **kwargs):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(registration_check(app_kind), explode)
    response = client.post(
        "/api/users", json={"user": {"username": "a", "email": "a@b.co", "password": "password1"}}
    )
    body = assert_error_shape(response, 500)
    assert "secret internal detail" not in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)
    assert body == {"errors": {"body": ["Internal server error."]}}
    assert any("secret internal detail" in r.getMessage() or r.exc_info for r in caplog.records)


@pytest.mark.parametrize(
    "error",
    [
        sa_exc.OperationalError("SELECT 1", {}, Exception("connection refused")),
        sa_exc.InterfaceError("SELECT 1", {}, Exception("connection closed")),
        sa_exc.TimeoutError("QueuePool limit reached"),
    ],
)
def test_database_unavailable_is_503_with_retry_after(client, app_kind, monkeypatch, error):
    def unavailable(*args, **kwargs):
        raise error

    monkeypatch.setattr(registration_check(app_kind), unavailable)
    response = client.post(
        "/api/users", json={"user": {"username": "a", "email": "a@b.co", "password": "password1"}}
    )
    assert_error_shape(response, 503)
    assert int(response.headers["Retry-After"]) > 0


@pytest.mark.parametrize(
    ("method", "path"),
    [("post", "/api/users/login"), ("get", "/api/articles"), ("get", "/api/tags")],
)
def test_unreachable_database_is_503(database_url, method, path):
    from tests.conftest import make_app

    # Port 9 (discard) on loopback: nothing listens, so connecting fails at once.
    url = (
        "postgresql+psycopg://postgres@127.0.0.1:9/none"
        if "postgresql" in database_url
        else "sqlite:////nonexistent-dir/x.db"
    )
    app = make_app(url)
    attempts: list[int] = []
    with app.app_context():
        event.listen(db.engine, "do_connect", lambda *args: attempts.append(1))
    login = {"user": {"email": "a@b.co", "password": "password1"}}
    response = getattr(app.test_client(), method)(path, json=login)
    assert_error_shape(response, 503)
    assert response.headers["Retry-After"]
    # Tried once: a host that does not answer costs one connect timeout, not two.
    assert attempts == [1]


def test_validation_errors_flatten_nested_messages():
    errors = validation_errors(
        {"json": {"article": {"tagList": {0: ["Not a valid string."]}, "_schema": ["Bad."]}}}
    )
    assert errors == {
        "body": ["tagList.0: Not a valid string.", "Bad."],
        "tagList.0": ["Not a valid string."],
    }


def test_anonymous_write_with_a_broken_body(client, app_kind):
    """Auth comes before the body's content in both apps; before its syntax only in Flask.

    The Flask app's token_auth runs before webargs reads the body. FastAPI resolves dependencies
    (CurrentUser) before it validates the body, but decodes the JSON before either, so malformed
    JSON from an anonymous caller is 422 there.
    """
    invalid = client.post("/api/articles", json={"article": {"title": ""}})
    assert_error_shape(invalid, 401)
    malformed = client.post("/api/articles", data="{not json", content_type="application/json")
    assert_error_shape(malformed, {"flask": 401, "fastapi": 422}[app_kind])
