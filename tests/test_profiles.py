"""Profiles: read, follow, unfollow."""

from __future__ import annotations

import pytest

from tests.test_errors import assert_error_shape
from webapp.core.models import Follow
from webapp.extensions import db

# The API's behaviour: every test that uses `client` runs against both apps.
pytestmark = pytest.mark.contract


def follows(app) -> int:
    with app.app_context():
        return db.session.scalar(db.select(db.func.count()).select_from(Follow))


def test_profile_anonymous(client, make_user):
    make_user("jake")
    response = client.get("/api/profiles/jake")
    assert response.status_code == 200
    assert response.get_json() == {
        "profile": {"username": "jake", "bio": "", "image": "", "following": False}
    }


@pytest.mark.parametrize(
    "username", ["nobody", "' OR '1'='1", "x'; DROP TABLE users;--", "🐉", "x" * 5000]
)
def test_unknown_profile_is_404(client, make_user, app, username):
    ann = make_user("ann")
    assert_error_shape(client.get(f"/api/profiles/{username}"), 404)
    assert_error_shape(client.post(f"/api/profiles/{username}/follow", headers=ann["headers"]), 404)
    assert follows(app) == 0


def test_profile_with_bad_token_is_401(client, make_user):
    make_user("jake")
    response = client.get("/api/profiles/jake", headers={"Authorization": "Token nope"})
    assert_error_shape(response, 401)


def test_follow_then_unfollow(client, make_user, app):
    make_user("jake")
    ann = make_user("ann")
    response = client.post("/api/profiles/jake/follow", headers=ann["headers"])
    assert response.status_code == 200
    assert response.get_json()["profile"]["following"] is True
    assert client.get("/api/profiles/jake", headers=ann["headers"]).get_json()["profile"][
        "following"
    ]
    # Only the follower sees following=true.
    assert not client.get("/api/profiles/jake").get_json()["profile"]["following"]
    response = client.delete("/api/profiles/jake/follow", headers=ann["headers"])
    assert response.status_code == 200
    assert response.get_json()["profile"]["following"] is False
    assert follows(app) == 0


def test_follow_and_unfollow_are_idempotent(client, make_user, app):
    make_user("jake")
    ann = make_user("ann")
    for _ in range(2):
        response = client.post("/api/profiles/jake/follow", headers=ann["headers"])
        assert response.get_json()["profile"]["following"] is True
    assert follows(app) == 1
    for _ in range(2):
        response = client.delete("/api/profiles/jake/follow", headers=ann["headers"])
        assert response.status_code == 200
        assert response.get_json()["profile"]["following"] is False
    assert follows(app) == 0


def test_following_yourself_is_422(client, make_user, app):
    jake = make_user("jake")
    assert_error_shape(client.post("/api/profiles/jake/follow", headers=jake["headers"]), 422)
    assert follows(app) == 0


def test_follow_requires_auth(client, make_user):
    make_user("jake")
    assert_error_shape(client.post("/api/profiles/jake/follow"), 401)
    assert_error_shape(client.delete("/api/profiles/jake/follow"), 401)


def test_follow_unknown_user_is_404(client, make_user):
    ann = make_user("ann")
    assert_error_shape(client.post("/api/profiles/nobody/follow", headers=ann["headers"]), 404)
    assert_error_shape(client.delete("/api/profiles/nobody/follow", headers=ann["headers"]), 404)


def test_profile_reflects_user_updates(client, make_user):
    jake = make_user("jake")
    client.put(
        "/api/user",
        json={"user": {"bio": "hi", "image": "https://example.com/j.png"}},
        headers=jake["headers"],
    )
    profile = client.get("/api/profiles/jake").get_json()["profile"]
    assert profile["bio"] == "hi"
    assert profile["image"] == "https://example.com/j.png"
