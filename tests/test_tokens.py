"""Token revocation: a password change revokes every earlier token, a deleted account's tokens are
refused, ids are never reused, and GET /api/user hands back the token it was given."""

from __future__ import annotations

from datetime import timedelta

import jwt
import pytest

from webapp.core import security
from webapp.core.models import User
from webapp.extensions import db

# The API's behaviour: every test that uses `client` runs against both apps.
pytestmark = pytest.mark.contract

# Every route that reads a token, with a body where it needs one.
TOKEN_ROUTES = [
    ("get", "/api/user", None),
    ("put", "/api/user", {"user": {"bio": "hijacked"}}),
    ("put", "/api/user", {"user": {"email": "thief@example.com", "password": "thief-password"}}),
    ("get", "/api/profiles/jake", None),
    ("post", "/api/profiles/ann/follow", None),
    ("delete", "/api/profiles/ann/follow", None),
    ("get", "/api/articles", None),
    ("get", "/api/articles/feed", None),
    ("post", "/api/articles", {"article": {"title": "T", "description": "d", "body": "b"}}),
    ("get", "/api/articles/{slug}", None),
    ("put", "/api/articles/{slug}", {"article": {"body": "hijacked"}}),
    ("post", "/api/articles/{slug}/favorite", None),
    ("delete", "/api/articles/{slug}/favorite", None),
    ("get", "/api/articles/{slug}/comments", None),
    ("post", "/api/articles/{slug}/comments", {"comment": {"body": "hijacked"}}),
    ("delete", "/api/articles/{slug}", None),
]


def call(client, route, slug, headers):
    method, path, body = route
    return getattr(client, method)(path.format(slug=slug), json=body, headers=headers)


def login(client, email: str, password: str) -> dict:
    response = client.post(
        "/api/users/login", json={"user": {"email": email, "password": password}}
    )
    assert response.status_code == 200, response.get_json()
    token = response.get_json()["user"]["token"]
    return {"Authorization": f"Token {token}"}


def change_password(client, headers: dict, password: str) -> dict:
    response = client.put("/api/user", json={"user": {"password": password}}, headers=headers)
    assert response.status_code == 200, response.get_json()
    return {"Authorization": f"Token {response.get_json()['user']['token']}"}


def delete_account(app, username: str) -> None:
    with app.app_context():
        db.session.execute(db.delete(User).filter_by(username=username))
        db.session.commit()


@pytest.mark.parametrize("route", TOKEN_ROUTES, ids=lambda r: f"{r[0]} {r[1]} {r[2] or ''}")
def test_password_change_revokes_earlier_tokens_everywhere(client, make_user, make_article, route):
    make_user("ann")
    jake = make_user("jake", password="old-password")
    other_session = login(client, "jake@example.com", "old-password")
    slug = make_article(jake)["slug"]
    fresh = change_password(client, jake["headers"], "new-password")

    for stale in (jake["headers"], other_session):
        response = call(client, route, slug, stale)
        assert response.status_code == 401, response.get_json()
        assert response.get_json() == {"errors": {"body": ["Token is invalid or expired."]}}
    assert call(client, route, slug, fresh).status_code in {200, 201, 204}


def test_stale_token_cannot_take_the_account_over(client, make_user):
    jake = make_user("jake", password="old-password")
    change_password(client, jake["headers"], "new-password")
    takeover = client.put(
        "/api/user",
        json={"user": {"email": "thief@example.com", "password": "thief-password"}},
        headers=jake["headers"],
    )
    assert takeover.status_code == 401
    assert client.get("/api/user", headers=jake["headers"]).status_code == 401
    login(client, "jake@example.com", "new-password")


def test_new_password_token_works_and_the_next_change_revokes_it(client, make_user):
    jake = make_user("jake", password="password-1")
    second = change_password(client, jake["headers"], "password-2")
    third = change_password(client, second, "password-3")
    assert client.get("/api/user", headers=second).status_code == 401
    assert client.get("/api/user", headers=third).get_json()["user"]["username"] == "jake"
    assert login(client, "jake@example.com", "password-3")


def test_other_changes_keep_the_token_and_return_it(client, make_user):
    jake = make_user("jake")
    response = client.put(
        "/api/user", json={"user": {"bio": "b", "username": "jacob"}}, headers=jake["headers"]
    )
    assert response.status_code == 200
    assert response.get_json()["user"]["token"] == jake["token"]
    assert client.get("/api/user", headers=jake["headers"]).status_code == 200


def test_current_user_returns_the_presented_token(app, client, make_user):
    make_user("jake")
    with app.app_context():
        user_id = db.session.scalar(db.select(User.id).filter_by(username="jake"))
    # A one-hour token: a freshly minted one would carry the configured 7-day lifetime.
    token = security.encode_token(user_id, app.config["SECRET_KEY"], timedelta(hours=1))
    response = client.get("/api/user", headers={"Authorization": f"Token {token}"})
    assert response.status_code == 200
    assert response.get_json()["user"]["token"] == token


def test_token_without_a_version_counts_as_version_zero(app, client, make_user):
    jake = make_user("jake", password="old-password")
    claims = jwt.decode(jake["token"], app.config["SECRET_KEY"], algorithms=["HS256"])
    del claims["ver"]
    legacy = {"Authorization": f"Token {jwt.encode(claims, app.config['SECRET_KEY'])}"}
    assert client.get("/api/user", headers=legacy).status_code == 200
    change_password(client, jake["headers"], "new-password")
    assert client.get("/api/user", headers=legacy).status_code == 401


@pytest.mark.parametrize("version", ["1", 1.5, None, True])
def test_token_with_a_malformed_version_is_401(app, client, make_user, version):
    jake = make_user("jake")
    claims = jwt.decode(jake["token"], app.config["SECRET_KEY"], algorithms=["HS256"])
    forged = jwt.encode({**claims, "ver": version}, app.config["SECRET_KEY"])
    response = client.get("/api/articles", headers={"Authorization": f"Token {forged}"})
    assert response.status_code == 401


@pytest.mark.parametrize("route", TOKEN_ROUTES, ids=lambda r: f"{r[0]} {r[1]} {r[2] or ''}")
def test_deleted_accounts_token_is_401_everywhere(app, client, make_user, make_article, route):
    make_user("ann")
    jake = make_user("jake")
    slug = make_article(make_user("writer"))["slug"]
    doomed = make_user("doomed")
    delete_account(app, "doomed")
    response = call(client, route, slug, doomed["headers"])
    assert response.status_code == 401, response.get_json()
    assert call(client, route, slug, jake["headers"]).status_code != 401


def test_deleted_accounts_token_does_not_authenticate_the_next_account(app, client, make_user):
    make_user("alice")
    bob = make_user("bob")
    delete_account(app, "bob")
    make_user("carol")
    response = client.get("/api/user", headers=bob["headers"])
    assert response.status_code == 401, response.get_json()


def test_user_and_comment_ids_are_never_reused(app, client, make_user, make_article):
    ann = make_user("ann")
    slug = make_article(ann)["slug"]
    url = f"/api/articles/{slug}/comments"
    first = client.post(url, json={"comment": {"body": "one"}}, headers=ann["headers"])
    first_id = first.get_json()["comment"]["id"]
    assert client.delete(f"{url}/{first_id}", headers=ann["headers"]).status_code == 204
    second = client.post(url, json={"comment": {"body": "two"}}, headers=ann["headers"])
    assert second.get_json()["comment"]["id"] > first_id

    make_user("zed")
    with app.app_context():
        zed_id = db.session.scalar(db.select(User.id).filter_by(username="zed"))
    delete_account(app, "zed")
    make_user("newcomer")
    with app.app_context():
        assert db.session.scalar(db.select(User.id).filter_by(username="newcomer")) > zed_id


def test_a_token_verified_before_still_expires(app, client, make_user, monkeypatch):
    # Verification is remembered per token; expiry is checked on every request all the same.
    make_user("jake")
    with app.app_context():
        user_id = db.session.scalar(db.select(User.id).filter_by(username="jake"))
    token = security.encode_token(user_id, app.config["SECRET_KEY"], timedelta(minutes=5))
    headers = {"Authorization": f"Token {token}"}
    assert client.get("/api/user", headers=headers).status_code == 200
    assert client.get("/api/user", headers=headers).status_code == 200  # from the cache
    later = security.time.time() + 301
    monkeypatch.setattr(security.time, "time", lambda: later)
    response = client.get("/api/user", headers=headers)
    assert response.status_code == 401
    assert client.get("/api/articles", headers=headers).status_code == 401


def test_a_remembered_token_is_not_valid_under_another_key():
    token = security.encode_token(7, "k" * 40, timedelta(minutes=5))
    assert security.decode_token(token, "k" * 40) == security.TokenClaims(7, 0)
    with pytest.raises(security.InvalidTokenError):
        security.decode_token(token, "x" * 40)
