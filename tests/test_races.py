"""Concurrent requests: races end in success or a 4xx, never a 500, and counts stay exact.

Real threads, each request with its own app context and session, on PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from webapp.core.models import Favorite, Follow, Tag, User
from webapp.extensions import db

pytestmark = pytest.mark.postgres


def at_once(app, requests: list[Callable]) -> list:
    """Run each request in its own thread, released together; the responses in order."""
    barrier = threading.Barrier(len(requests))

    def run(request: Callable):
        client = app.test_client()
        barrier.wait()
        return request(client)

    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        return list(pool.map(run, requests))


def rows(app, model, **where) -> int:
    with app.app_context():
        stmt = db.select(db.func.count()).select_from(model).filter_by(**where)
        return db.session.scalar(stmt)


def test_same_new_tag_created_at_once(app, make_user):
    users = [make_user() for _ in range(8)]

    def publish(user):
        payload = {"article": {"title": "T", "description": "d", "body": "b", "tagList": ["new"]}}
        return lambda c: c.post("/api/articles", json=payload, headers=user["headers"])

    responses = at_once(app, [publish(u) for u in users])
    assert [r.status_code for r in responses] == [201] * 8
    assert all(r.get_json()["article"]["tagList"] == ["new"] for r in responses)
    assert len({r.get_json()["article"]["slug"] for r in responses}) == 8
    assert rows(app, Tag, name="new") == 1


def test_overlapping_tag_sets_in_any_order_at_once(app, make_user):
    users = [make_user() for _ in range(6)]
    tag_sets = [["a", "b", "c"], ["c", "b", "a"], ["b", "c", "a"]] * 2

    def publish(user, tags):
        payload = {"article": {"title": "T", "description": "d", "body": "b", "tagList": tags}}
        return lambda c: c.post("/api/articles", json=payload, headers=user["headers"])

    responses = at_once(app, [publish(u, t) for u, t in zip(users, tag_sets, strict=True)])
    assert [r.status_code for r in responses] == [201] * 6
    assert rows(app, Tag) == 3


def test_same_user_favorites_twice_at_once(app, client, make_user, make_article):
    article = make_article(make_user())
    fan = make_user()
    url = f"/api/articles/{article['slug']}/favorite"
    responses = at_once(app, [lambda c: c.post(url, headers=fan["headers"])] * 6)
    assert [r.status_code for r in responses] == [200] * 6
    assert rows(app, Favorite) == 1
    got = client.get(f"/api/articles/{article['slug']}", headers=fan["headers"]).get_json()
    assert got["article"]["favorited"] is True
    assert got["article"]["favoritesCount"] == 1


def test_twenty_users_favorite_one_article_at_once(app, client, make_user, make_article):
    article = make_article(make_user())
    fans = [make_user() for _ in range(20)]
    url = f"/api/articles/{article['slug']}/favorite"

    def favorite(fan):
        return lambda c: c.post(url, headers=fan["headers"])

    responses = at_once(app, [favorite(f) for f in fans])
    assert [r.status_code for r in responses] == [200] * 20
    assert all(r.get_json()["article"]["favorited"] for r in responses)
    got = client.get(f"/api/articles/{article['slug']}").get_json()["article"]
    assert got["favoritesCount"] == 20


def test_same_user_follows_twice_at_once(app, make_user):
    make_user("jake")
    fan = make_user()
    responses = at_once(
        app, [lambda c: c.post("/api/profiles/jake/follow", headers=fan["headers"])] * 6
    )
    assert [r.status_code for r in responses] == [200] * 6
    assert all(r.get_json()["profile"]["following"] for r in responses)
    assert rows(app, Follow) == 1


def test_duplicate_registrations_at_once(app):
    payload = {"user": {"username": "jake", "email": "jake@example.com", "password": "password1"}}
    responses = at_once(app, [lambda c: c.post("/api/users", json=payload)] * 8)
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [422] * 7
    for response in responses:
        if response.status_code == 422:
            errors = response.get_json()["errors"]
            assert errors["body"]
            assert {"username", "email"} & set(errors)
    assert rows(app, User) == 1


def test_same_username_in_different_cases_at_once(app):
    names = ["jake", "JAKE", "Jake", "jAKE"] * 2

    def register(i: int, name: str):
        user = {"username": name, "email": f"jake{i}@example.com", "password": "password1"}
        return lambda c: c.post("/api/users", json={"user": user})

    responses = at_once(app, [register(i, name) for i, name in enumerate(names)])
    assert sorted(r.status_code for r in responses) == [201] + [422] * 7
    for response in responses:
        if response.status_code == 422:
            assert response.get_json()["errors"]["username"] == ["has already been taken"]
    assert rows(app, User) == 1


def test_concurrent_password_changes_leave_one_valid_token(app, client, make_user):
    jake = make_user("jake")

    def change(i: int):
        body = {"user": {"password": f"password-{i}"}}
        return lambda c: c.put("/api/user", json=body, headers=jake["headers"])

    responses = at_once(app, [change(i) for i in range(4)])
    assert {r.status_code for r in responses} <= {200, 401}
    tokens = [r.get_json()["user"]["token"] for r in responses if r.status_code == 200]
    assert len(tokens) >= 2, "the changes did not overlap"
    # Each change increments the version in SQL, so only the last one's token survives.
    working = [
        t
        for t in tokens
        if client.get("/api/user", headers={"Authorization": f"Token {t}"}).status_code == 200
    ]
    assert len(working) == 1
    assert client.get("/api/user", headers=jake["headers"]).status_code == 401


def test_concurrent_edits_leave_one_requests_tag_list(app, client, make_user, make_article):
    # Each PUT replaces the tags; without the row lock two replacements interleave and the
    # article ends with the union. Whatever the order, the result is exactly one request's list.
    jake = make_user("jake")
    tag_lists = [[f"t{i}a", f"t{i}b", "shared"] for i in range(6)]
    for _trial in range(5):
        article = make_article(jake, tagList=["old"])
        url = f"/api/articles/{article['slug']}"

        def edit(url, tags):
            payload = {"article": {"tagList": tags}}
            return lambda c: c.put(url, json=payload, headers=jake["headers"])

        responses = at_once(app, [edit(url, tags) for tags in tag_lists])
        assert [r.status_code for r in responses] == [200] * len(tag_lists)
        final = client.get(url).get_json()["article"]["tagList"]
        assert final in [sorted(tags) for tags in tag_lists], final
