"""The statement budget: every read (an article list, the feed, one article, a profile, comments,
tags) is ONE SQL statement (tags, the reader's facts and the total included), whatever the page
size and however many distinct authors, tags, favoriters and commenters. Signed in, the token is
checked against its account (so revoked tokens and deleted accounts are refused on reads too):
inside the statement itself for article lists and the feed, by a primary-key lookup first for
the other reads (two statements, the budget)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event

from webapp.core import security
from webapp.core.models import Article, ArticleTag, Comment, Favorite, Follow, Tag, User
from webapp.extensions import db

# The API's behaviour: every test that uses `client` runs against both apps.
pytestmark = pytest.mark.contract

AUTHORS = 120
# Statements per read, the reader's `following`/`favorited` included.
READ = 1
# A token's account, looked up first.
LOOKUP = 1
LOOKUP_SQL = re.compile(r"^SELECT users\.id, .*\sFROM users\s+WHERE users\.id = ", re.DOTALL)
BUDGET = 2


def favoriters_of(i: int) -> int:
    """How many users favorite article i (varies per article, so counts cannot be confused)."""
    return i % 5 + 1


@pytest.fixture
def world(app) -> dict:
    """AUTHORS authors with one article each, distinct tags and favoriters, a reader who follows
    every author and favorites the even articles, and one article commented on by every author."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with app.app_context():
        users = [
            User(username=f"author{i}", email=f"author{i}@example.com", password_hash="x")
            for i in range(AUTHORS)
        ]
        reader = User(username="reader", email="reader@example.com", password_hash="x")
        tags = [Tag(name=f"tag{i:03d}") for i in range(AUTHORS + 1)]
        db.session.add_all([*users, reader, *tags])
        db.session.flush()
        articles = [
            Article(
                slug=f"article-{i}",
                title=f"Article {i}",
                description="d",
                body="b",
                author_id=users[i].id,
                created_at=start + timedelta(minutes=i),
            )
            for i in range(AUTHORS)
        ]
        db.session.add_all(articles)
        db.session.flush()
        for i, article in enumerate(articles):
            for tag in (tags[i], tags[i + 1]):
                db.session.add(ArticleTag(article_id=article.id, tag_id=tag.id))
            for k in range(favoriters_of(i)):
                db.session.add(Favorite(user_id=users[(i + k) % AUTHORS].id, article_id=article.id))
            if i % 2 == 0:
                db.session.add(Favorite(user_id=reader.id, article_id=article.id))
            db.session.add(Follow(follower_id=reader.id, followed_id=users[i].id))
            db.session.add(Comment(body=f"c{i}", article_id=articles[0].id, author_id=users[i].id))
        db.session.commit()
        token = security.encode_token(reader.id, app.config["SECRET_KEY"], timedelta(hours=1))
    return {"headers": {"Authorization": f"Token {token}"}}


def expected_article(i: int, reader: bool) -> dict:
    """What the reader (or an anonymous caller) must see for article i."""
    return {
        "slug": f"article-{i}",
        "tagList": [f"tag{i:03d}", f"tag{i + 1:03d}"],
        "favoritesCount": favoriters_of(i) + (1 if i % 2 == 0 else 0),
        "favorited": reader and i % 2 == 0,
        "author": f"author{i}",
        "following": reader,
    }


def seen(article: dict) -> dict:
    return {
        "slug": article["slug"],
        "tagList": article["tagList"],
        "favoritesCount": article["favoritesCount"],
        "favorited": article["favorited"],
        "author": article["author"]["username"],
        "following": article["author"]["following"],
    }


def get(client, statements, url, headers=None, anonymous=READ, lookup=True):
    """GET url and check its statements: `anonymous` of them, plus the lookup first with a token
    (lookup=False: pages, whose one statement checks the token itself)."""
    with statements:
        response = client.get(url, headers=headers)
    assert response.status_code == 200, response.get_json()
    expected = anonymous + (LOOKUP if headers and lookup else 0)
    assert statements.count == expected, statements.statements
    if headers and lookup:
        assert LOOKUP_SQL.match(statements.statements[0]), statements.statements[0]
    if not lookup:
        assert not any(LOOKUP_SQL.match(sql) for sql in statements.statements)
    assert statements.count <= BUDGET
    return response.get_json()


@pytest.mark.parametrize("limit", [20, 100])
@pytest.mark.parametrize("as_reader", [False, True])
def test_article_list(client, statements, world, limit, as_reader):
    headers = world["headers"] if as_reader else None
    body = get(client, statements, f"/api/articles?limit={limit}&offset=3", headers, lookup=False)
    assert body["articlesCount"] == AUTHORS
    newest = range(AUTHORS - 1 - 3, AUTHORS - 1 - 3 - limit, -1)
    assert [seen(a) for a in body["articles"]] == [expected_article(i, as_reader) for i in newest]
    assert len({a["author"]["username"] for a in body["articles"]}) == limit


@pytest.mark.parametrize(
    "query",
    ["tag=tag050", "author=author7", "favorited=reader&limit=100", "favorited=author3&tag=tag003"],
)
def test_filtered_list(client, statements, world, query):
    body = get(client, statements, f"/api/articles?{query}", world["headers"], lookup=False)
    assert body["articles"]
    assert body["articlesCount"] == len(body["articles"])


@pytest.mark.parametrize(
    ("url", "total"),
    [
        ("/api/articles?offset=500", AUTHORS),
        ("/api/articles?offset=120", AUTHORS),
        ("/api/articles?author=author7&offset=1", 1),
        ("/api/articles?tag=tag999", 0),
        ("/api/articles/feed?offset=500", AUTHORS),
    ],
)
@pytest.mark.parametrize("as_reader", [False, True])
def test_page_past_the_end(client, statements, world, url, total, as_reader):
    # The total still comes in the page's one statement: the empty page hangs off it.
    headers = world["headers"] if as_reader or "feed" in url else None
    body = get(client, statements, url, headers, READ, lookup=False)
    assert body == {"articles": [], "articlesCount": total}


@pytest.mark.postgres
@pytest.mark.parametrize("as_reader", [False, True])
def test_deep_page_computes_tags_counts_and_flags_only_for_its_rows(
    app_engine, client, world, as_reader
):
    # Skipped rows cost index entries: every per-article subquery runs once per row kept (5),
    # not once per row skipped (100) -- PostgreSQL's own execution counts say so.
    headers = world["headers"] if as_reader else None
    executed = []
    engine = app_engine
    listener = lambda conn, cursor, sql, params, *rest: executed.append((sql, params))  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        body = client.get("/api/articles?limit=5&offset=100", headers=headers).get_json()
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert [a["slug"] for a in body["articles"]] == [f"article-{i}" for i in range(19, 14, -1)]
    *_, (sql, params) = executed  # the page
    with engine.connect() as conn:
        plan = conn.exec_driver_sql(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params).scalar()
    loops = list(subplan_loops(plan[0]["Plan"]))
    assert loops, plan
    assert max(loops) <= 5, loops


def subplan_loops(node: dict):
    """Actual Loops of every correlated subquery (SubPlan) in an EXPLAIN ANALYZE plan."""
    if node.get("Parent Relationship") == "SubPlan":
        yield node["Actual Loops"]
    for child in node.get("Plans", []):
        yield from subplan_loops(child)


@pytest.mark.parametrize("limit", [20, 100])
def test_feed(client, statements, world, limit):
    url = f"/api/articles/feed?limit={limit}"
    body = get(client, statements, url, world["headers"], lookup=False)
    assert body["articlesCount"] == AUTHORS
    newest = range(AUTHORS - 1, AUTHORS - 1 - limit, -1)
    assert [seen(a) for a in body["articles"]] == [expected_article(i, True) for i in newest]


@pytest.mark.parametrize("as_reader", [False, True])
def test_single_article(client, statements, world, as_reader):
    headers = world["headers"] if as_reader else None
    body = get(client, statements, "/api/articles/article-42", headers)
    assert seen(body["article"]) == expected_article(42, as_reader)
    assert body["article"]["body"] == "b"


@pytest.mark.parametrize("as_reader", [False, True])
def test_comments(client, statements, world, as_reader):
    headers = world["headers"] if as_reader else None
    body = get(client, statements, "/api/articles/article-0/comments", headers)
    authors = [c["author"] for c in body["comments"]]
    assert [a["username"] for a in authors] == [f"author{i}" for i in range(AUTHORS)]
    assert all(a["following"] is as_reader for a in authors)


@pytest.mark.parametrize("as_reader", [False, True])
def test_no_comments_and_no_article_are_one_statement_too(client, statements, world, as_reader):
    headers = world["headers"] if as_reader else None
    assert get(client, statements, "/api/articles/article-1/comments", headers) == {"comments": []}
    with statements:
        response = client.get("/api/articles/no-such-article/comments", headers=headers)
    assert response.status_code == 404
    assert response.get_json() == {"errors": {"body": ["Article not found."]}}
    assert statements.count == READ + (LOOKUP if headers else 0)


@pytest.mark.parametrize("as_reader", [False, True])
def test_profile(client, statements, world, as_reader):
    headers = world["headers"] if as_reader else None
    body = get(client, statements, "/api/profiles/author9", headers)
    assert body["profile"]["following"] is as_reader


def test_tags(client, statements, world):
    body = get(client, statements, "/api/tags")
    assert body["tags"] == [f"tag{i:03d}" for i in range(AUTHORS + 1)]


def test_any_relationship_never_loads_lazily():
    # Reads select columns (queries.py); a relationship, if one is added, must not load on access.
    relationships = [rel for mapper in db.Model.registry.mappers for rel in mapper.relationships]
    assert all(rel.lazy == "raise" for rel in relationships), relationships


def test_list_statement_never_selects_the_body(client, statements, world):
    body = get(client, statements, "/api/articles?limit=5", world["headers"], lookup=False)
    assert all("body" not in article for article in body["articles"])
    assert "articles.body" not in statements.statements[-1]


def test_article_statement_selects_the_body(client, statements, world):
    body = get(client, statements, "/api/articles/article-7", world["headers"])
    assert body["article"]["body"] == "b"
    assert "articles.body" in statements.statements[-1]
