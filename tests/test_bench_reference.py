"""The benchmark's hand-written reference answers exactly what the app answers, so the ratio
in the benchmark report compares the same work. PostgreSQL only, like the reference's SQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from werkzeug.test import Client

from bench import reference

pytestmark = pytest.mark.postgres


@pytest.fixture
def reference_client(app, database_url, monkeypatch) -> Iterator[Client]:
    """The reference WSGI app on the test database, sharing the app's signing key."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("SECRET_KEY", app.config["SECRET_KEY"])
    yield Client(reference.app)
    connection = getattr(reference._local, "connection", None)
    if connection is not None:
        connection.close()


@pytest.fixture
def reader_and_articles(client, make_user, make_article) -> dict:
    """Three authors, one followed by the reader, with tags, favorites and more than a page."""
    reader = make_user("reader")
    authors = [make_user(f"author{i}") for i in range(3)]
    slugs = []
    for n in range(25):
        author = authors[n % 3]
        tags = [["dragons"], ["training", "dragons"], []][n % 3]
        slugs.append(make_article(author, f"Article {n}", tagList=tags)["slug"])
    client.post("/api/profiles/author0/follow", headers=reader["headers"])
    for slug in slugs[::4]:
        client.post(f"/api/articles/{slug}/favorite", headers=reader["headers"])
    for slug in slugs[::3]:
        client.post(f"/api/articles/{slug}/favorite", headers=authors[1]["headers"])
    return reader


@pytest.mark.parametrize(
    "path",
    [
        "/api/articles?limit=20",
        "/api/articles?limit=5&offset=3",
        "/api/articles/feed?limit=20",
        "/api/articles/feed?limit=3&offset=2",
    ],
)
def test_reference_matches_the_app_for_a_reader(
    client, reference_client, reader_and_articles, path
):
    headers = reader_and_articles["headers"]
    expected = client.get(path, headers=headers)
    actual = reference_client.get(path, headers=headers)
    assert expected.status_code == actual.status_code == 200
    assert actual.get_json() == expected.get_json()
    assert expected.get_json()["articles"]  # the comparison saw real rows


def test_reference_matches_the_app_anonymously(client, reference_client, reader_and_articles):
    expected = client.get("/api/articles?limit=20").get_json()
    assert reference_client.get("/api/articles?limit=20").get_json() == expected


def test_reference_rejects_what_it_does_not_serve(reference_client):
    assert reference_client.get("/api/articles/feed").status_code == 401
    assert reference_client.get("/api/tags").status_code == 404
    bad = {"Authorization": "Token not-a-jwt"}
    assert reference_client.get("/api/articles", headers=bad).status_code == 401


def test_reference_refuses_a_revoked_token_as_the_app_does(
    client, reference_client, reader_and_articles
):
    # The reference does the app's work: the token's version is checked in its one statement.
    old = reader_and_articles["headers"]
    change = {"user": {"password": "a-new-password-123"}}
    assert client.put("/api/user", json=change, headers=old).status_code == 200
    for path in ("/api/articles?limit=20", "/api/articles/feed?limit=20"):
        assert client.get(path, headers=old).status_code == 401
        assert reference_client.get(path, headers=old).status_code == 401
