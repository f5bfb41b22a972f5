"""Comments: list with the reader's following, add, delete by the author only."""

from __future__ import annotations

import re

import pytest

from tests.test_errors import assert_error_shape
from webapp.core.models import Comment
from webapp.extensions import db

# The API's behaviour: every test that uses `client` runs against both apps.
pytestmark = pytest.mark.contract

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def comments(app) -> int:
    with app.app_context():
        return db.session.scalar(db.select(db.func.count()).select_from(Comment))


def add(client, slug, user, body="Nice!"):
    return client.post(
        f"/api/articles/{slug}/comments", json={"comment": {"body": body}}, headers=user["headers"]
    )


def test_add_comment_is_200_with_author(client, make_user, make_article):
    article = make_article(make_user("jake"))
    ann = make_user("ann")
    response = add(client, article["slug"], ann, "Thank you so much!")
    assert response.status_code == 200
    comment = response.get_json()["comment"]
    assert isinstance(comment["id"], int)
    assert comment["body"] == "Thank you so much!"
    assert TIMESTAMP.match(comment["createdAt"])
    assert comment["updatedAt"] == comment["createdAt"]
    assert comment["author"] == {"username": "ann", "bio": "", "image": "", "following": False}


def test_list_comments_oldest_first_with_reader_following(client, make_user, make_article):
    jake = make_user("jake")
    ann = make_user("ann")
    article = make_article(jake)
    first = add(client, article["slug"], ann, "first").get_json()["comment"]
    second = add(client, article["slug"], jake, "second").get_json()["comment"]
    client.post("/api/profiles/ann/follow", headers=jake["headers"])
    response = client.get(f"/api/articles/{article['slug']}/comments", headers=jake["headers"])
    assert response.status_code == 200
    listed = response.get_json()["comments"]
    assert [c["id"] for c in listed] == [first["id"], second["id"]]
    assert listed[0]["author"]["following"] is True
    assert listed[1]["author"]["following"] is False
    anonymous = client.get(f"/api/articles/{article['slug']}/comments").get_json()["comments"]
    assert [c["author"]["following"] for c in anonymous] == [False, False]
    assert anonymous[0] == first


def test_emoji_and_sql_looking_comment_round_trip(client, make_user, make_article):
    article = make_article(make_user("jake"))
    text = "🐉 '); DELETE FROM comments;--"
    assert add(client, article["slug"], make_user("ann"), text).status_code == 200
    listed = client.get(f"/api/articles/{article['slug']}/comments").get_json()["comments"]
    assert [c["body"] for c in listed] == [text]


def test_list_comments_of_article_without_comments(client, make_user, make_article):
    article = make_article(make_user())
    response = client.get(f"/api/articles/{article['slug']}/comments")
    assert response.get_json() == {"comments": []}


def test_comment_errors(client, make_user, make_article, app):
    article = make_article(make_user("jake"))
    ann = make_user("ann")
    url = f"/api/articles/{article['slug']}/comments"
    assert_error_shape(client.get("/api/articles/nope/comments"), 404)
    assert_error_shape(client.get(url, headers={"Authorization": "Token bad"}), 401)
    assert_error_shape(client.post(url, json={"comment": {"body": "x"}}), 401)
    assert_error_shape(add(client, "nope", ann), 404)
    assert comments(app) == 0


@pytest.mark.parametrize(
    "comment",
    [
        {},
        {"body": None},
        {"body": ""},
        {"body": "  "},
        {"body": 1},
        {"body": "x" * 100_000},
    ],
)
def test_invalid_comment_is_422(client, make_user, make_article, app, comment):
    article = make_article(make_user("jake"))
    response = client.post(
        f"/api/articles/{article['slug']}/comments",
        json={"comment": comment},
        headers=make_user("ann")["headers"],
    )
    assert_error_shape(response, 422)
    assert comments(app) == 0


def test_delete_own_comment(client, make_user, make_article, app):
    article = make_article(make_user("jake"))
    ann = make_user("ann")
    comment = add(client, article["slug"], ann).get_json()["comment"]
    url = f"/api/articles/{article['slug']}/comments/{comment['id']}"
    response = client.delete(url, headers=ann["headers"])
    assert response.status_code == 204
    assert comments(app) == 0
    assert_error_shape(client.delete(url, headers=ann["headers"]), 404)


def test_delete_comment_errors(client, make_user, make_article, app):
    jake = make_user("jake")
    ann = make_user("ann")
    article = make_article(jake)
    other = make_article(jake)
    comment = add(client, article["slug"], ann).get_json()["comment"]
    url = f"/api/articles/{article['slug']}/comments/{comment['id']}"
    assert_error_shape(client.delete(url), 401)
    # Not even the article's author may delete someone else's comment.
    assert_error_shape(client.delete(url, headers=jake["headers"]), 403)
    # The comment exists, but on another article.
    wrong_article = f"/api/articles/{other['slug']}/comments/{comment['id']}"
    assert_error_shape(client.delete(wrong_article, headers=ann["headers"]), 404)
    base = f"/api/articles/{article['slug']}/comments"
    for bad_id in ("99999", "99999999999999999999", "0", "-1", "abc", "1.5", "' OR 1=1"):
        assert_error_shape(client.delete(f"{base}/{bad_id}", headers=ann["headers"]), 404)
    assert comments(app) == 1


def test_comment_ignores_read_only_and_unknown_fields(client, make_user, make_article, app):
    article = make_article(make_user("jake"))
    ann = make_user("ann")
    echoed = {"body": "Hi", "id": 555, "createdAt": "2000-01-01T00:00:00.000Z", "author": "jake"}
    response = add_raw(client, article["slug"], ann, echoed)
    assert response.status_code == 200
    comment = response.get_json()["comment"]
    assert comment["id"] != 555
    assert comment["createdAt"] > "2020"
    assert comment["author"]["username"] == "ann"
    assert comments(app) == 1


def add_raw(client, slug, user, comment):
    return client.post(
        f"/api/articles/{slug}/comments", json={"comment": comment}, headers=user["headers"]
    )
