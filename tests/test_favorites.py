"""Favorites: idempotent, with the reader's state and the true count."""

from __future__ import annotations

import pytest

from tests.test_errors import assert_error_shape
from webapp.core.models import Favorite
from webapp.extensions import db

# The API's behaviour: every test that uses `client` runs against both apps.
pytestmark = pytest.mark.contract


def favorites(app) -> int:
    with app.app_context():
        return db.session.scalar(db.select(db.func.count()).select_from(Favorite))


def test_favorite_and_unfavorite(client, make_user, make_article, app):
    article = make_article(make_user("jake"))
    ann = make_user("ann")
    bob = make_user("bob")
    url = f"/api/articles/{article['slug']}/favorite"
    response = client.post(url, headers=ann["headers"])
    assert response.status_code == 200
    favored = response.get_json()["article"]
    assert favored["favorited"] is True
    assert favored["favoritesCount"] == 1
    assert favored["body"] == article["body"]
    response = client.post(url, headers=bob["headers"])
    assert response.get_json()["article"]["favoritesCount"] == 2
    response = client.delete(url, headers=ann["headers"])
    assert response.status_code == 200
    assert response.get_json()["article"]["favorited"] is False
    assert response.get_json()["article"]["favoritesCount"] == 1
    # Bob still sees his own favorite.
    seen_by_bob = client.get(f"/api/articles/{article['slug']}", headers=bob["headers"])
    assert seen_by_bob.get_json()["article"]["favorited"] is True
    assert favorites(app) == 1


def test_favorite_twice_and_unfavorite_twice_are_idempotent(client, make_user, make_article, app):
    article = make_article(make_user("jake"))
    ann = make_user("ann")
    url = f"/api/articles/{article['slug']}/favorite"
    for _ in range(2):
        response = client.post(url, headers=ann["headers"])
        assert response.status_code == 200
        assert response.get_json()["article"]["favoritesCount"] == 1
    assert favorites(app) == 1
    for _ in range(2):
        response = client.delete(url, headers=ann["headers"])
        assert response.status_code == 200
        assert response.get_json()["article"]["favoritesCount"] == 0
    assert favorites(app) == 0


def test_favorite_errors(client, make_user, make_article, app):
    article = make_article(make_user("jake"))
    ann = make_user("ann")
    url = f"/api/articles/{article['slug']}/favorite"
    assert_error_shape(client.post(url), 401)
    assert_error_shape(client.delete(url), 401)
    assert_error_shape(client.post("/api/articles/nope/favorite", headers=ann["headers"]), 404)
    assert_error_shape(client.delete("/api/articles/nope/favorite", headers=ann["headers"]), 404)
    assert favorites(app) == 0


def test_authors_may_favorite_their_own_article(client, make_user, make_article):
    jake = make_user("jake")
    article = make_article(jake)
    response = client.post(f"/api/articles/{article['slug']}/favorite", headers=jake["headers"])
    assert response.get_json()["article"]["favorited"] is True
