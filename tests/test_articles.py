"""Articles: publish, read, edit, delete, list, filter, page and the feed."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from tests.test_errors import assert_error_shape
from webapp.core.models import Article, ArticleTag, Comment, Favorite
from webapp.extensions import db

# The API's behaviour: every test that uses `client` runs against both apps.
pytestmark = pytest.mark.contract

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(db.select(db.func.count()).select_from(model))


def test_create_article(client, make_user):
    jake = make_user("jake")
    payload = {
        "title": "How to train your dragon",
        "description": "Ever wonder how?",
        "body": "You have to believe",
        "tagList": ["training", "dragons", "training"],
    }
    response = client.post("/api/articles", json={"article": payload}, headers=jake["headers"])
    assert response.status_code == 201
    article = response.get_json()["article"]
    assert article["slug"].startswith("how-to-train-your-dragon")
    assert article["title"] == payload["title"]
    assert article["description"] == payload["description"]
    assert article["body"] == payload["body"]
    assert article["tagList"] == ["dragons", "training"]
    assert TIMESTAMP.match(article["createdAt"])
    assert article["createdAt"] == article["updatedAt"]
    assert article["favorited"] is False
    assert article["favoritesCount"] == 0
    assert article["author"] == {"username": "jake", "bio": "", "image": "", "following": False}


def test_create_without_tags_has_empty_tag_list(client, make_user, make_article):
    article = make_article(make_user())
    assert article["tagList"] == []


def test_duplicate_titles_get_distinct_slugs(client, make_user, make_article):
    jake = make_user()
    slugs = {make_article(jake, "Same title")["slug"] for _ in range(3)}
    assert len(slugs) == 3
    for slug in slugs:
        assert client.get(f"/api/articles/{slug}").status_code == 200


def test_title_without_sluggable_characters_still_gets_a_slug(client, make_user, make_article):
    article = make_article(make_user(), "😀 !!")
    assert article["slug"]
    assert client.get(f"/api/articles/{article['slug']}").get_json()["article"]["title"] == "😀 !!"


def test_create_requires_auth(client, app):
    payload = {"article": {"title": "t", "description": "d", "body": "b"}}
    assert_error_shape(client.post("/api/articles", json=payload), 401)
    assert count(app, Article) == 0


@pytest.mark.parametrize(
    ("article", "field"),
    [
        ({"description": "d", "body": "b"}, "title"),
        ({"title": "t", "body": "b"}, "description"),
        ({"title": "t", "description": "d"}, "body"),
        ({"title": None, "description": "d", "body": "b"}, "title"),
        ({"title": "   ", "description": "d", "body": "b"}, "title"),
        ({"title": 5, "description": "d", "body": "b"}, "title"),
        ({"title": "t", "description": "d", "body": "b", "tagList": None}, "tagList"),
        ({"title": "t", "description": "d", "body": "b", "tagList": "a,b"}, "tagList"),
        ({"title": "t", "description": "d", "body": "b", "tagList": [1]}, "tagList.0"),
        ({"title": "t", "description": "d", "body": "b", "tagList": [" "]}, "tagList.0"),
        ({"title": "t", "description": "d", "body": "b", "tagList": ["x" * 65]}, "tagList.0"),
        ({"title": "t", "description": "d", "body": "b", "tagList": ["a\nb"]}, "tagList.0"),
        (
            {
                "title": "t",
                "description": "d",
                "body": "b",
                "tagList": list("abcdefghijklmnopqrstu"),
            },
            "tagList",
        ),
        ({"title": "x" * 100_000, "description": "d", "body": "b"}, "title"),
        ({"title": "t", "description": "x" * 100_000, "body": "b"}, "description"),
        ({"title": "t", "description": "d", "body": "x" * 100_000}, "body"),
        ({"title": "a\x00b", "description": "d", "body": "b"}, "title"),
        ({"title": "t", "description": "d\x00", "body": "b"}, "description"),
        ({"title": "t", "description": "d", "body": "\x00"}, "body"),
    ],
)
def test_invalid_article_is_422_and_creates_nothing(client, make_user, app, article, field):
    jake = make_user()
    response = client.post("/api/articles", json={"article": article}, headers=jake["headers"])
    body = assert_error_shape(response, 422)
    assert field in body["errors"]
    assert count(app, Article) == 0


# What clients echo back from an article they read: read-only, so ignored and never stored.
ECHOED = {
    "slug": "mine",
    "createdAt": "2000-01-01T00:00:00.000Z",
    "updatedAt": "2000-01-01T00:00:00.000Z",
    "favorited": True,
    "favoritesCount": 99,
    "author": {"username": "ann", "following": True},
    "id": 7,
    "anythingElse": [1, 2],
}


def test_create_ignores_read_only_and_unknown_fields(client, make_user, app):
    jake = make_user("jake")
    make_user("ann")
    payload = {"title": "Mine", "description": "d", "body": "b", **ECHOED}
    response = client.post(
        "/api/articles", json={"article": payload, "extra": 1}, headers=jake["headers"]
    )
    assert response.status_code == 201
    article = response.get_json()["article"]
    assert article["slug"] != "mine"
    assert article["slug"].startswith("mine-")
    assert article["createdAt"] > "2020"
    assert (article["favorited"], article["favoritesCount"]) == (False, 0)
    assert article["author"]["username"] == "jake"
    assert client.get("/api/articles/mine").status_code == 404
    assert client.get(f"/api/articles/{article['slug']}").get_json()["article"] == article
    assert count(app, Favorite) == 0


def test_update_ignores_read_only_and_unknown_fields(client, make_user, make_article, app):
    jake = make_user("jake")
    make_user("ann")
    article = make_article(jake, "Title")
    # What editors send: the whole form, with the slug it was loaded from.
    payload = {**ECHOED, "title": "Title", "description": "new", "body": "b", "tagList": ["x"]}
    response = client.put(
        f"/api/articles/{article['slug']}", json={"article": payload}, headers=jake["headers"]
    )
    assert response.status_code == 200
    updated = response.get_json()["article"]
    assert updated["slug"] == article["slug"]
    assert updated["createdAt"] == article["createdAt"]
    assert (updated["description"], updated["tagList"]) == ("new", ["x"])
    assert (updated["favorited"], updated["favoritesCount"]) == (False, 0)
    assert updated["author"]["username"] == "jake"
    assert count(app, Favorite) == 0


def test_update_without_a_known_field_is_422_and_changes_nothing(client, make_user, make_article):
    jake = make_user("jake")
    article = make_article(jake)
    url = f"/api/articles/{article['slug']}"
    for body in ({"article": {}}, {"article": {"slug": "x", "favorited": True}}):
        response = client.put(url, json=body, headers=jake["headers"])
        assert assert_error_shape(response, 422)["errors"]["body"] == [
            "at least one known field is required."
        ]
    assert client.get(url).get_json()["article"] == article


def test_emoji_and_sql_looking_text_round_trip(client, make_user, make_article):
    text = "Robert'); DROP TABLE articles;-- 🐉"
    article = make_article(make_user(), text, body=text, tagList=[text[:60]])
    fetched = client.get(f"/api/articles/{article['slug']}").get_json()["article"]
    assert fetched["title"] == fetched["body"] == text
    assert fetched["tagList"] == [text[:60]]
    listed = client.get("/api/articles", query_string={"tag": text[:60]}).get_json()
    assert listed["articlesCount"] == 1


def test_get_article_anonymous_and_unknown(client, make_user, make_article):
    article = make_article(make_user("jake"), "Hello", tagList=["b", "a"])
    response = client.get(f"/api/articles/{article['slug']}")
    assert response.status_code == 200
    assert response.get_json()["article"] == article
    assert_error_shape(client.get("/api/articles/no-such-slug"), 404)


@pytest.mark.parametrize(
    "slug", ["' OR '1'='1", "x'; DROP TABLE articles;--", "🐉", "%", "_", "x" * 5000]
)
def test_odd_slugs_are_404_and_change_nothing(client, make_user, make_article, app, slug):
    jake = make_user()
    make_article(jake)
    assert_error_shape(client.get(f"/api/articles/{slug}"), 404)
    assert_error_shape(client.get(f"/api/articles/{slug}/comments"), 404)
    assert_error_shape(client.delete(f"/api/articles/{slug}", headers=jake["headers"]), 404)
    assert_error_shape(client.post(f"/api/articles/{slug}/favorite", headers=jake["headers"]), 404)
    assert count(app, Article) == 1


def test_nul_in_a_slug_is_a_client_error(client, make_user, make_article, app):
    jake = make_user()
    make_article(jake)
    # Refused before any lookup, so SQLite (which could store it) and PostgreSQL answer alike.
    response = client.get("/api/articles/a%00b")
    assert_error_shape(response, 422)
    assert count(app, Article) == 1


def test_slugs_match_the_documented_pattern_which_no_route_word_does(
    client, make_user, make_article
):
    spec = client.get("/api/openapi.json").get_json()
    path = spec["paths"]["/api/articles/{slug}"]
    # flask-smorest documents a path parameter once for the path, FastAPI once per operation.
    parameters = path.get("parameters") or path["get"]["parameters"]
    (parameter,) = [p for p in parameters if p["name"] == "slug"]
    pattern = re.compile(parameter["schema"]["pattern"])
    jake = make_user()
    for title in ("Feed", "feed", "How to train your dragon", "😀 !!", "x" * 255, "Ünïcödé"):
        slug = make_article(jake, title)["slug"]
        assert pattern.search(slug), slug
        assert client.get(f"/api/articles/{slug}").get_json()["article"]["title"] == title
    assert not pattern.search("feed")
    # The feed stays the feed, for anonymous callers too, whatever articles are titled.
    assert_error_shape(client.get("/api/articles/feed"), 401)


def test_update_article_by_author(client, make_user, make_article):
    jake = make_user("jake")
    article = make_article(jake, "Old title", tagList=["a"])
    response = client.put(
        f"/api/articles/{article['slug']}",
        json={"article": {"title": "New title", "body": "New body"}},
        headers=jake["headers"],
    )
    assert response.status_code == 200
    updated = response.get_json()["article"]
    assert updated["slug"] != article["slug"]
    assert updated["slug"].startswith("new-title")
    assert updated["title"] == "New title"
    assert updated["body"] == "New body"
    assert updated["description"] == article["description"]
    assert updated["tagList"] == ["a"]
    assert updated["createdAt"] == article["createdAt"]
    assert updated["updatedAt"] > article["updatedAt"]
    assert_error_shape(client.get(f"/api/articles/{article['slug']}"), 404)
    assert client.get(f"/api/articles/{updated['slug']}").get_json()["article"] == updated


def test_update_keeps_slug_when_title_unchanged(client, make_user, make_article):
    jake = make_user("jake")
    article = make_article(jake, "Title")
    response = client.put(
        f"/api/articles/{article['slug']}",
        json={"article": {"title": "Title", "description": "new"}},
        headers=jake["headers"],
    )
    assert response.get_json()["article"]["slug"] == article["slug"]
    assert response.get_json()["article"]["description"] == "new"


def test_update_replaces_tags(client, make_user, make_article):
    jake = make_user("jake")
    article = make_article(jake, tagList=["a", "b"])
    response = client.put(
        f"/api/articles/{article['slug']}",
        json={"article": {"tagList": ["c", "b"]}},
        headers=jake["headers"],
    )
    assert response.get_json()["article"]["tagList"] == ["b", "c"]
    assert response.get_json()["article"]["updatedAt"] > article["updatedAt"]
    assert client.get("/api/tags").get_json()["tags"] == ["b", "c"]


def test_update_by_someone_else_is_403_and_changes_nothing(client, make_user, make_article):
    article = make_article(make_user("jake"), "Mine")
    ann = make_user("ann")
    response = client.put(
        f"/api/articles/{article['slug']}",
        json={"article": {"title": "Hers"}},
        headers=ann["headers"],
    )
    assert_error_shape(response, 403)
    assert client.get(f"/api/articles/{article['slug']}").get_json()["article"] == article


def test_update_errors(client, make_user, make_article):
    jake = make_user("jake")
    article = make_article(jake)
    url = f"/api/articles/{article['slug']}"
    assert_error_shape(client.put(url, json={"article": {"title": "x"}}), 401)
    assert_error_shape(
        client.put("/api/articles/nope", json={"article": {"title": "x"}}, headers=jake["headers"]),
        404,
    )
    for bad in ({"title": None}, {"body": ""}, {"favoritesCount": 9}, {"tagList": [None]}):
        response = client.put(url, json={"article": bad}, headers=jake["headers"])
        assert_error_shape(response, 422)
    assert client.get(url).get_json()["article"] == article


def test_delete_article_takes_comments_favorites_and_tag_links(
    client, make_user, make_article, app
):
    jake = make_user("jake")
    ann = make_user("ann")
    article = make_article(jake, tagList=["gone"])
    make_article(jake, tagList=["stays"])
    url = f"/api/articles/{article['slug']}"
    client.post(f"{url}/favorite", headers=ann["headers"])
    client.post(f"{url}/comments", json={"comment": {"body": "hi"}}, headers=ann["headers"])
    response = client.delete(url, headers=jake["headers"])
    assert response.status_code == 204
    assert response.get_data() == b""
    assert_error_shape(client.get(url), 404)
    assert count(app, Comment) == 0
    assert count(app, Favorite) == 0
    assert count(app, ArticleTag) == 1
    assert client.get("/api/tags").get_json()["tags"] == ["stays"]


def test_delete_errors(client, make_user, make_article, app):
    jake = make_user("jake")
    ann = make_user("ann")
    article = make_article(jake)
    url = f"/api/articles/{article['slug']}"
    assert_error_shape(client.delete(url), 401)
    assert_error_shape(client.delete(url, headers=ann["headers"]), 403)
    assert_error_shape(client.delete("/api/articles/nope", headers=jake["headers"]), 404)
    assert count(app, Article) == 1


# --- lists ---------------------------------------------------------------------------------------


def slugs(response) -> list[str]:
    assert response.status_code == 200, response.get_json()
    return [a["slug"] for a in response.get_json()["articles"]]


def test_list_newest_first_without_body(client, make_user, make_article):
    jake = make_user("jake")
    made = [make_article(jake) for _ in range(3)]
    response = client.get("/api/articles")
    assert slugs(response) == [a["slug"] for a in reversed(made)]
    body = response.get_json()
    assert body["articlesCount"] == 3
    assert all("body" not in a for a in body["articles"])
    first = dict(made[-1])
    first.pop("body")
    assert body["articles"][0] == first


def test_equal_timestamps_are_ordered_by_id(client, make_user, make_article, app):
    jake = make_user("jake")
    made = [make_article(jake) for _ in range(3)]
    with app.app_context():
        stamp = db.session.scalar(db.select(Article.created_at).limit(1))
        db.session.execute(db.update(Article).values(created_at=stamp))
        db.session.commit()
    assert slugs(client.get("/api/articles")) == [a["slug"] for a in reversed(made)]


def test_empty_list(client):
    assert client.get("/api/articles").get_json() == {"articles": [], "articlesCount": 0}


def test_filters_are_exact_and_combinable(client, make_user, make_article):
    jake = make_user("jake")
    ann = make_user("ann")
    a1 = make_article(jake, tagList=["dragons"])
    a2 = make_article(jake, tagList=["dragons", "training"])
    a3 = make_article(ann, tagList=["dragons"])
    make_article(ann, tagList=["dragon"])
    client.post(f"/api/articles/{a2['slug']}/favorite", headers=ann["headers"])
    client.post(f"/api/articles/{a3['slug']}/favorite", headers=ann["headers"])

    def listed(**query):
        return slugs(client.get("/api/articles", query_string=query))

    assert listed(tag="dragons") == [a3["slug"], a2["slug"], a1["slug"]]
    assert listed(tag="Dragons") == []
    assert listed(author="jake") == [a2["slug"], a1["slug"]]
    assert listed(author="jak") == []
    assert listed(favorited="ann") == [a3["slug"], a2["slug"]]
    assert listed(favorited="jake") == []
    assert listed(tag="dragons", author="jake", favorited="ann") == [a2["slug"]]
    assert listed(tag="training", author="ann") == []
    assert listed(author="nobody") == []
    count_only = client.get("/api/articles", query_string={"tag": "dragons", "limit": 1})
    assert count_only.get_json()["articlesCount"] == 3
    past_end = client.get("/api/articles", query_string={"author": "jake", "offset": 5})
    assert past_end.get_json() == {"articles": [], "articlesCount": 2}
    past_end = client.get("/api/articles", query_string={"favorited": "ann", "offset": 2})
    assert past_end.get_json() == {"articles": [], "articlesCount": 2}


def test_paging(client, make_user, make_article):
    jake = make_user("jake")
    made = [make_article(jake)["slug"] for _ in range(5)][::-1]
    assert slugs(client.get("/api/articles?limit=2")) == made[:2]
    assert slugs(client.get("/api/articles?limit=2&offset=2")) == made[2:4]
    assert slugs(client.get("/api/articles?limit=2&offset=4")) == made[4:]
    past_end = client.get("/api/articles?limit=2&offset=10").get_json()
    assert past_end == {"articles": [], "articlesCount": 5}
    assert client.get("/api/articles?limit=100&offset=0").get_json()["articlesCount"] == 5


def test_default_limit_is_20(client, make_user, make_article):
    jake = make_user("jake")
    for _ in range(21):
        make_article(jake)
    body = client.get("/api/articles").get_json()
    assert len(body["articles"]) == 20
    assert body["articlesCount"] == 21


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=-1",
        "limit=101",
        "limit=abc",
        "limit=1.5",
        "limit=",
        "offset=-1",
        "offset=x",
        "offset=99999999999999999999",
        "limit=99999999999999999999",
        # Huge, yet under the 64 KiB URL that httpx (the FastAPI test client) accepts.
        "tag=" + "x" * 60_000,
        "tag=",
    ],
)
def test_invalid_list_parameters_are_422(client, make_user, make_article, app, query):
    jake = make_user("jake")
    make_article(jake)
    assert_error_shape(client.get(f"/api/articles?{query}"), 422)
    if query.startswith(("limit", "offset")):
        feed = client.get(f"/api/articles/feed?{query}", headers=jake["headers"])
        assert_error_shape(feed, 422)
    assert count(app, Article) == 1


@pytest.mark.parametrize(
    "query",
    [
        {"author": "' OR '1'='1"},
        {"favorited": "x;DROP TABLE articles"},
        # Huge, yet under the 64 KiB URL that httpx (the FastAPI test client) accepts.
        {"author": "x" * 60_000},
        {"author": ""},
        {"favorited": "a b"},
        {"favorited": "🐉"},
        {"author": "jake", "favorited": "no one!"},
    ],
)
def test_user_filters_that_no_username_matches_give_an_empty_page(
    client, make_user, make_article, query
):
    # The contract types author and favorited as plain strings: never 422 on their value.
    # (A NUL is the exception, anywhere in a URL: tests/test_hostile_input.py.)
    make_article(make_user("jake"))
    response = client.get("/api/articles", query_string=query)
    assert response.status_code == 200
    assert response.get_json() == {"articles": [], "articlesCount": 0}


def test_sql_looking_tag_filter_matches_nothing(client, make_user, make_article, app):
    make_article(make_user(), tagList=["a"])
    response = client.get("/api/articles", query_string={"tag": "a' OR '1'='1"})
    assert response.get_json() == {"articles": [], "articlesCount": 0}
    assert count(app, Article) == 1


def test_list_with_bad_token_is_401(client):
    assert_error_shape(client.get("/api/articles", headers={"Authorization": "Token x"}), 401)


# --- feed ----------------------------------------------------------------------------------------


def test_feed_has_articles_of_followed_authors_only(client, make_user, make_article):
    jake = make_user("jake")
    ann = make_user("ann")
    bob = make_user("bob")
    j1 = make_article(jake)
    make_article(ann)
    j2 = make_article(jake)
    make_article(bob)
    assert client.get("/api/articles/feed", headers=bob["headers"]).get_json() == {
        "articles": [],
        "articlesCount": 0,
    }
    client.post("/api/profiles/jake/follow", headers=bob["headers"])
    response = client.get("/api/articles/feed", headers=bob["headers"])
    assert slugs(response) == [j2["slug"], j1["slug"]]
    assert response.get_json()["articlesCount"] == 2
    assert all(a["author"]["following"] for a in response.get_json()["articles"])
    assert slugs(client.get("/api/articles/feed?limit=1&offset=1", headers=bob["headers"])) == [
        j1["slug"]
    ]
    past_end = client.get("/api/articles/feed?offset=5", headers=bob["headers"]).get_json()
    assert past_end == {"articles": [], "articlesCount": 2}


def test_feed_pages_merge_followed_authors_newest_first_ties_by_id(
    client, make_user, make_article, app
):
    jake = make_user("jake")
    ann = make_user("ann")
    bob = make_user("bob")
    reader = make_user("reader")
    # Published in this order, so ids interleave the two followed authors: (name, author, day).
    published = [
        ("j1", jake, 1),
        ("a1", ann, 1),
        ("j2", jake, 3),
        ("a2", ann, 3),
        ("j3", jake, 3),
        ("a3", ann, 2),
        ("b1", bob, 9),  # the newest of all, by an author the reader does not follow
    ]
    slug = {name: make_article(author)["slug"] for name, author, _ in published}
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with app.app_context():
        for name, _, day in published:
            stamp = start + timedelta(days=day)
            db.session.execute(
                db.update(Article).filter_by(slug=slug[name]).values(created_at=stamp)
            )
        db.session.commit()
    for name in ("jake", "ann"):
        client.post(f"/api/profiles/{name}/follow", headers=reader["headers"])
    # Another reader's follow must not leak into this reader's feed.
    client.post("/api/profiles/bob/follow", headers=ann["headers"])
    # Newest first; equal times (day 3 across both authors, then day 1) by id, the newest first.
    expected = [slug[name] for name in ("j3", "a2", "j2", "a3", "a1", "j1")]
    for limit in (1, 2, 4, 20):
        for offset in range(8):
            query = {"limit": limit, "offset": offset}
            page = client.get("/api/articles/feed", query_string=query, headers=reader["headers"])
            assert slugs(page) == expected[offset : offset + limit], query
            assert page.get_json()["articlesCount"] == len(expected), query
    past_end = client.get("/api/articles/feed?offset=100", headers=reader["headers"]).get_json()
    assert past_end == {"articles": [], "articlesCount": len(expected)}


def test_feed_requires_auth(client):
    assert_error_shape(client.get("/api/articles/feed"), 401)


def test_list_shows_reader_facts(client, make_user, make_article):
    jake = make_user("jake")
    ann = make_user("ann")
    article = make_article(jake)
    client.post(f"/api/articles/{article['slug']}/favorite", headers=ann["headers"])
    client.post("/api/profiles/jake/follow", headers=ann["headers"])
    mine = client.get("/api/articles", headers=ann["headers"]).get_json()["articles"][0]
    assert mine["favorited"] is True
    assert mine["favoritesCount"] == 1
    assert mine["author"]["following"] is True
    anonymous = client.get("/api/articles").get_json()["articles"][0]
    assert anonymous["favorited"] is False
    assert anonymous["favoritesCount"] == 1
    assert anonymous["author"]["following"] is False


def test_tags_are_sorted_by_code_point_everywhere(client, make_user, make_article):
    jake = make_user("jake")
    article = make_article(jake, tagList=["b", "a", "B", "é", "Z"])
    expected = ["B", "Z", "a", "b", "é"]
    assert article["tagList"] == expected
    fetched = client.get(f"/api/articles/{article['slug']}").get_json()["article"]
    listed = client.get("/api/articles?author=jake").get_json()["articles"]
    feed_reader = make_user("reader")
    client.post("/api/profiles/jake/follow", headers=feed_reader["headers"])
    fed = client.get("/api/articles/feed", headers=feed_reader["headers"]).get_json()["articles"]
    assert fetched["tagList"] == listed[0]["tagList"] == fed[0]["tagList"] == expected
