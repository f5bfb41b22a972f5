"""Tags: each tag in use once; tags of deleted or retagged articles do not linger."""

from __future__ import annotations

import pytest

from webapp.core.models import Tag
from webapp.extensions import db

# The API's behaviour: every test that uses `client` runs against both apps.
pytestmark = pytest.mark.contract


def test_no_tags(client):
    response = client.get("/api/tags")
    assert response.status_code == 200
    assert response.get_json() == {"tags": []}


def test_each_tag_once(client, make_user, make_article, app):
    jake = make_user("jake")
    make_article(jake, tagList=["dragons", "training"])
    make_article(make_user("ann"), tagList=["training", "  angular ", "dragons"])
    assert client.get("/api/tags").get_json() == {"tags": ["angular", "dragons", "training"]}
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Tag)) == 3


def test_tags_of_deleted_articles_do_not_linger(client, make_user, make_article):
    jake = make_user("jake")
    article = make_article(jake, tagList=["old"])
    client.delete(f"/api/articles/{article['slug']}", headers=jake["headers"])
    assert client.get("/api/tags").get_json() == {"tags": []}
