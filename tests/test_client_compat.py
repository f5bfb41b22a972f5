"""What RealWorld front ends send, replayed as plain HTTP from a browser origin: the preflight,
then the request, and the answer a browser needs (status, body, CORS headers).

The requests are those of the official Angular front end and of common React and Vue ones: a
trailing slash on POST /api/articles/, whole forms echoed back on edit (slug included), a blank
password on the settings form, "Bearer" or lower-case schemes, filters with arbitrary strings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from config import TestConfig
from tests.conftest import truncate_all
from webapp.app import create_app
from webapp.extensions import db

ANGULAR = "http://localhost:4200"
VITE = "http://127.0.0.1:5173"


class Browser:
    """A front end on `origin`: every request carries Origin, non-simple ones are preflighted."""

    def __init__(self, client: FlaskClient, origin: str) -> None:
        self.client = client
        self.origin = origin
        self.authorization: str | None = None

    def preflight(self, method: str, url: str, headers: str) -> Any:
        """The OPTIONS request a browser sends first; it must allow what follows."""
        response = self.client.options(
            url,
            headers={
                "Origin": self.origin,
                "Access-Control-Request-Method": method,
                "Access-Control-Request-Headers": headers,
            },
        )
        assert response.status_code == 200, (method, url)
        assert response.headers["Access-Control-Allow-Origin"] == self.origin
        assert method in response.headers["Access-Control-Allow-Methods"]
        allowed = {
            h.strip().lower() for h in response.headers["Access-Control-Allow-Headers"].split(",")
        }
        assert {h.strip().lower() for h in headers.split(",")} <= allowed
        assert "Origin" in response.headers.get("Vary", "")
        return response

    def send(self, method: str, url: str, body: Any = None) -> Any:
        """Preflight (Authorization or a JSON body make the request non-simple), then send."""
        wanted = []
        if self.authorization:
            wanted.append("authorization")
        if body is not None:
            wanted.append("content-type")
        if wanted or method not in ("GET", "HEAD", "POST"):
            self.preflight(method, url, ",".join(wanted))
        headers = {"Origin": self.origin}
        if self.authorization:
            headers["Authorization"] = self.authorization
        response = self.client.open(url, method=method, json=body, headers=headers)
        # The page can read the answer, errors included, only with these.
        assert response.headers["Access-Control-Allow-Origin"] == self.origin, (method, url)
        assert "Origin" in response.headers.get("Vary", "")
        assert response.status_code < 300 or response.status_code >= 400, "no redirects"
        return response


@pytest.fixture
def make_app(database_url: str, _schema: None) -> Iterator[Callable[..., Flask]]:
    """Factory: an app with these settings; tables emptied and engines closed afterwards."""
    apps: list[Flask] = []

    def make(**settings: Any) -> Flask:
        apps.append(create_app(TestConfig, {"SQLALCHEMY_DATABASE_URI": database_url, **settings}))
        return apps[-1]

    yield make
    for app in apps:
        with app.app_context():
            truncate_all()
            db.engine.dispose()


@pytest.fixture
def dev_app(make_app: Callable[..., Flask]) -> Flask:
    """The app as `make run` starts it: development, no CORS_ORIGINS configured."""
    return make_app(APP_ENV="development", CORS_ORIGINS=[])


@pytest.fixture
def angular(dev_app: Flask) -> Browser:
    """The Angular front end's dev server (ng serve)."""
    return Browser(dev_app.test_client(), ANGULAR)


def sign_up(browser: Browser, username: str, scheme: str = "Token") -> dict[str, Any]:
    """Register through the browser and keep the token as the front end does."""
    user = {"username": username, "email": f"{username}@example.com", "password": "password123"}
    response = browser.send("POST", "/api/users", {"user": user})
    assert response.status_code == 201
    created = response.get_json()["user"]
    browser.authorization = f"{scheme} {created['token']}"
    return created


def publish(browser: Browser, title: str, url: str = "/api/articles/") -> dict[str, Any]:
    """The editor's POST, with the Angular front end's trailing slash."""
    article = {"title": title, "description": "d", "body": "b", "tagList": ["x"]}
    response = browser.send("POST", url, {"article": article})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["article"]


def test_sign_up_sign_in_and_read_the_user(angular):
    sign_up(angular, "jake")
    login = {"user": {"email": "jake@example.com", "password": "password123"}}
    assert angular.send("POST", "/api/users/login", login).status_code == 200
    assert angular.send("GET", "/api/user").get_json()["user"]["username"] == "jake"


def test_publishing_from_the_editor_with_a_trailing_slash(angular):
    sign_up(angular, "jake")
    article = publish(angular, "How to train your dragon")
    assert article["title"] == "How to train your dragon"
    assert angular.send("GET", f"/api/articles/{article['slug']}/").status_code == 200


def test_editing_sends_the_whole_article_back(angular):
    sign_up(angular, "jake")
    article = publish(angular, "Draft")
    form = {
        "title": "Draft",
        "description": "better",
        "body": "b",
        "tagList": ["x", "y"],
        "slug": article["slug"],
    }
    response = angular.send("PUT", f"/api/articles/{article['slug']}", {"article": form})
    assert response.status_code == 200
    edited = response.get_json()["article"]
    assert (edited["slug"], edited["description"], edited["tagList"]) == (
        article["slug"],
        "better",
        ["x", "y"],
    )


def test_saving_settings_without_a_new_password(angular):
    sign_up(angular, "jake")
    form = {"image": "", "username": "jake", "bio": "hello", "email": "jake@example.com"}
    response = angular.send("PUT", "/api/user", {"user": {**form, "password": ""}})
    assert response.status_code == 200
    assert response.get_json()["user"]["bio"] == "hello"
    login = {"user": {"email": "jake@example.com", "password": "password123"}}
    assert angular.send("POST", "/api/users/login", login).status_code == 200


def test_the_rest_of_the_journey(angular, dev_app):
    ann = Browser(dev_app.test_client(), VITE)
    sign_up(ann, "ann", scheme="Bearer")
    article = publish(ann, "Ann's article", url="/api/articles")
    sign_up(angular, "jake", scheme="token")
    slug = article["slug"]
    assert angular.send("POST", "/api/profiles/ann/follow/", {}).status_code == 200
    assert (
        angular.send("GET", "/api/articles/feed/?limit=10&offset=0").get_json()["articlesCount"]
        == 1
    )
    assert angular.send("POST", f"/api/articles/{slug}/favorite/").status_code == 200
    listed = angular.send("GET", "/api/articles/?favorited=jake&limit=10").get_json()
    assert [a["slug"] for a in listed["articles"]] == [slug]
    comment = {"comment": {"body": "Nice"}}
    added = angular.send("POST", f"/api/articles/{slug}/comments/", comment).get_json()["comment"]
    comments = angular.send("GET", f"/api/articles/{slug}/comments").get_json()["comments"]
    assert [c["id"] for c in comments] == [added["id"]]
    assert (
        angular.send("DELETE", f"/api/articles/{slug}/comments/{added['id']}/").status_code == 204
    )
    assert angular.send("DELETE", f"/api/articles/{slug}/favorite").status_code == 200
    assert angular.send("DELETE", "/api/profiles/ann/follow").status_code == 200
    assert angular.send("GET", "/api/profiles/ann/").get_json()["profile"]["following"] is False
    assert angular.send("GET", "/api/tags/").get_json() == {"tags": ["x"]}
    assert ann.send("DELETE", f"/api/articles/{slug}/").status_code == 204


def test_filters_with_any_string_are_an_empty_page(angular):
    for query in ("author=no%20such%20user", "favorited=%F0%9F%90%89", "author="):
        response = angular.send("GET", f"/api/articles?{query}")
        assert response.status_code == 200
        assert response.get_json() == {"articles": [], "articlesCount": 0}


def test_errors_reach_the_page_with_their_cors_headers(angular):
    anonymous = angular.send("PUT", "/api/user", {"user": {"bio": 5}})
    assert anonymous.status_code == 401
    assert anonymous.get_json()["errors"]["body"]
    sign_up(angular, "jake")
    invalid = angular.send("PUT", "/api/user", {"user": {"email": "not-an-email"}})
    assert invalid.status_code == 422
    assert "email" in invalid.get_json()["errors"]


@pytest.mark.parametrize(
    "origin",
    ["http://localhost:4200", "http://127.0.0.1:5173", "http://localhost", "http://[::1]:3000"],
)
def test_any_local_origin_may_call_in_development(dev_app, origin):
    browser = Browser(dev_app.test_client(), origin)
    assert browser.send("GET", "/api/tags").status_code == 200


@pytest.mark.parametrize(
    "origin", ["https://evil.example.net", "http://localhost.evil.net", "http://127.0.0.1.nip.io"]
)
def test_other_origins_are_not_allowed_in_development(dev_app, origin):
    response = dev_app.test_client().get("/api/tags", headers={"Origin": origin})
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Origin" in response.headers["Vary"]


def test_production_allows_only_the_configured_origins(make_app):
    production = make_app(
        APP_ENV="production", SECRET_KEY="s" * 40, CORS_ORIGINS=["https://app.example"]
    )
    client = production.test_client()
    allowed = client.get("/api/tags", headers={"Origin": "https://app.example"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert "Origin" in allowed.headers["Vary"]
    local = client.get("/api/tags", headers={"Origin": ANGULAR})
    assert "Access-Control-Allow-Origin" not in local.headers
    assert "Origin" in local.headers["Vary"]  # the answer depends on the Origin sent
    closed = make_app(APP_ENV="production", SECRET_KEY="s" * 40, CORS_ORIGINS=[])
    response = closed.test_client().get("/api/tags", headers={"Origin": ANGULAR})
    assert "Access-Control-Allow-Origin" not in response.headers


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/articles"),
        ("POST", "/api/articles"),
        ("GET", "/api/articles/feed"),
        ("GET", "/api/user"),
        ("PUT", "/api/user"),
        ("POST", "/api/users"),
        ("POST", "/api/users/login"),
        ("GET", "/api/tags"),
        ("GET", "/api/profiles/nobody"),
        ("GET", "/api/articles/no-such-article"),
    ],
)
def test_a_trailing_slash_answers_the_same_without_a_redirect(client, method, path):
    body = {"json": {}} if method in ("POST", "PUT") else {}
    plain = client.open(path, method=method, **body)
    slashed = client.open(path + "/", method=method, **body)
    assert slashed.status_code == plain.status_code
    assert slashed.status_code < 300 or slashed.status_code >= 400
    assert slashed.get_json() == plain.get_json()


def test_the_document_keeps_the_canonical_paths(client):
    paths = client.get("/api/openapi.json").get_json()["paths"]
    assert "/api/articles" in paths
    assert not [path for path in paths if path.endswith("/")]
