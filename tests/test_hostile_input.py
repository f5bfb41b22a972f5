"""Hostile input is a 4xx in the error shape on every database, changes nothing, and is logged in
one line without a traceback: lone surrogates, NUL characters, deep nesting, huge integers."""

from __future__ import annotations

import json
import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webapp.core.models import Article, User
from webapp.extensions import db

# The API's behaviour: every test that uses `client` runs against both apps.
pytestmark = pytest.mark.contract

# JSON texts: escapes are written out, since json.dumps would refuse or normalise some of them.
SURROGATE = "\\ud800"
LOW_SURROGATE = "\\udc00"
NUL = "\\u0000"


def assert_refused(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    errors = response.get_json()["errors"]
    assert errors["body"]
    assert all(isinstance(m, str) for m in errors["body"])
    return errors


def post_json(client, url: str, text: str, headers=None):
    return client.post(url, data=text, content_type="application/json", headers=headers)


def rows(app, model) -> int:
    with app.app_context():
        return db.session.scalar(db.select(db.func.count()).select_from(model))


@pytest.fixture
def jake(make_user):
    return make_user("jake")


def article_text(title: str = "T", key: str = "title") -> str:
    return f'{{"article": {{"{key}": "{title}", "description": "d", "body": "b"}}}}'


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (article_text(f"a{SURROGATE}b"), "title"),
        (article_text(f"a{LOW_SURROGATE}"), "title"),
        (article_text(f"a{NUL}b"), "title"),
        (article_text(key=f"title{SURROGATE}"), "article"),
        (article_text(key=f"title{NUL}"), "article"),
        (
            f'{{"article": {{"title": "t", "description": "d", "body": "b", '
            f'"tagList": ["ok", "x{SURROGATE}"]}}}}',
            "tagList.1",
        ),
    ],
)
def test_unsafe_strings_in_a_body_are_422_and_change_nothing(app, client, jake, text, field):
    errors = assert_refused(post_json(client, "/api/articles", text, jake["headers"]), 422)
    assert field in errors
    assert rows(app, Article) == 0


@pytest.mark.parametrize("password", [f"p{SURROGATE}assword", f"pass{NUL}word1"])
def test_unsafe_passwords_are_422_at_login_and_registration(app, client, jake, password):
    login = f'{{"user": {{"email": "jake@example.com", "password": "{password}"}}}}'
    assert "password" in assert_refused(post_json(client, "/api/users/login", login), 422)
    register = (
        f'{{"user": {{"username": "eve", "email": "eve@example.com", "password": "{password}"}}}}'
    )
    assert "password" in assert_refused(post_json(client, "/api/users", register), 422)
    assert rows(app, User) == 1


@pytest.mark.parametrize("bio", [f"a{SURROGATE}", f"a{NUL}b"])
def test_unsafe_profile_text_is_422_and_changes_nothing(client, jake, bio):
    response = client.put(
        "/api/user",
        data=f'{{"user": {{"bio": "{bio}"}}}}',
        content_type="application/json",
        headers=jake["headers"],
    )
    assert "bio" in assert_refused(response, 422)
    assert client.get("/api/user", headers=jake["headers"]).get_json()["user"]["bio"] == ""


@pytest.mark.parametrize("depth", [20, 1000, 100_000])
@pytest.mark.parametrize(("open_", "close"), [("[", "]"), ('{"a":', "}")])
def test_deep_nesting_is_422(client, jake, depth, open_, close):
    text = f'{{"user": {{"bio": {open_ * depth}1{close * depth}}}}}'
    response = client.put(
        "/api/user", data=text, content_type="application/json", headers=jake["headers"]
    )
    errors = assert_refused(response, 422)
    assert errors["body"] == ["Request body is nested too deeply."]


@pytest.mark.parametrize("digits", [101, 4300, 5000, 100_000])
def test_huge_integers_are_422(client, jake, digits):
    text = f'{{"user": {{"email": "jake@example.com", "password": {"9" * digits}}}}}'
    errors = assert_refused(post_json(client, "/api/users/login", text), 422)
    assert errors["body"] == ["Request body has an integer over 100 digits."]


def test_ordinary_integers_still_reach_validation(client, app_kind):
    text = '{"user": {"email": "jake@example.com", "password": -12345678901234567890}}'
    errors = assert_refused(post_json(client, "/api/users/login", text), 422)
    # Each validation layer words it its own way: marshmallow in Flask, pydantic in FastAPI.
    wording = {"flask": "Not a valid string.", "fastapi": "Input should be a valid string"}
    assert errors["password"] == [wording[app_kind]]


def test_surrogate_pairs_are_ordinary_text(client, jake, make_article):
    # A correctly paired escape is one character (U+1F600), not hostile input.
    text = article_text("smile \\ud83d\\ude00")
    response = post_json(client, "/api/articles", text, jake["headers"])
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["article"]["title"] == "smile \U0001f600"


@pytest.mark.parametrize(
    "url",
    [
        "/api/profiles/ja%00ke",
        "/api/profiles/ja%00ke/follow",
        "/api/articles/a%00b",
        "/api/articles/a%00b/comments",
        "/api/articles?tag=a%00b",
        "/api/articles?author=%00",
        "/api/articles?favorited=jake%00",
        "/api/articles?limit=1%00",
        "/api/articles?x%00=1",
        "/api/nowhere%00",
    ],
)
def test_nul_in_the_url_is_422(client, jake, url):
    errors = assert_refused(client.get(url, headers=jake["headers"]), 422)
    assert errors["body"] == ["The URL must not contain NUL characters."]


def test_nul_in_the_url_of_a_write_changes_nothing(app, client, jake, make_user):
    make_user("ja")
    response = client.post("/api/profiles/ja%00/follow", headers=jake["headers"])
    assert_refused(response, 422)
    assert (
        client.get("/api/profiles/ja", headers=jake["headers"]).get_json()["profile"]["following"]
        is False
    )


def test_invalid_utf8_in_the_url_is_not_an_error(client):
    # Werkzeug decodes URLs with replacement characters: an encoded surrogate is just a name.
    assert client.get("/api/profiles/%ED%A0%80").status_code == 404
    assert client.get("/api/articles?tag=%ED%A0%80").get_json()["articlesCount"] == 0


@pytest.mark.parametrize(
    ("method", "url", "text"),
    [
        (
            "POST",
            "/api/users/login",
            f'{{"user": {{"email": "a@b.co", "password": "{SURROGATE}"}}}}',
        ),
        ("POST", "/api/users/login", "[" * 1000 + "]" * 1000),
        ("POST", "/api/users/login", '{"user": {"password": ' + "1" * 5000 + "}}"),
        ("GET", "/api/profiles/a%00", None),
    ],
)
def test_refusals_log_one_line_without_a_traceback(client, caplog, method, url, text):
    caplog.set_level(logging.INFO)
    response = client.open(url, method=method, data=text, content_type="application/json")
    assert 400 <= response.status_code < 500
    # Each app logs under its own package.
    logged = [r for r in caplog.records if r.name.startswith(("webapp", "fastapi_variant"))]
    assert len(logged) == 1, [r.getMessage() for r in logged]
    assert logged[0].levelno == logging.INFO
    assert logged[0].exc_info is None
    assert "\n" not in logged[0].getMessage()


# --- property-based: hostile pieces anywhere in otherwise valid bodies ---------------------------

HOSTILE_STRINGS = st.builds(
    lambda head, bad, tail: head + bad + tail,
    st.text(max_size=5),
    st.sampled_from(["\ud800", "\udfff", "\udbff", "\x00", "a\ud834"]),
    st.text(max_size=5),
)
# A value that cannot be stored or processed: an unsafe string, deep nesting or a huge integer.
HOSTILE_VALUES = st.one_of(
    HOSTILE_STRINGS.map(json.dumps),
    st.integers(min_value=17, max_value=3000).map(lambda depth: "[" * depth + "]" * depth),
    st.integers(min_value=101, max_value=6000).map(lambda digits: "7" * digits),
)
BODIES = {
    ("POST", "/api/users"): {
        "user": {"username": "eve", "email": "eve@example.com", "password": "password1"}
    },
    ("POST", "/api/users/login"): {
        "user": {"email": "jake@example.com", "password": "password123"}
    },
    ("PUT", "/api/user"): {"user": {"bio": "b", "image": "", "username": "jake2"}},
    ("POST", "/api/articles"): {
        "article": {"title": "t", "description": "d", "body": "b", "tagList": ["x"]}
    },
}


@st.composite
def hostile_requests(draw: st.DrawFn) -> tuple[str, str, str]:
    """A valid request body with one field's value (or a tag) replaced by a hostile JSON text."""
    method, url = draw(st.sampled_from(sorted(BODIES)))
    envelope, fields = next(iter(BODIES[(method, url)].items()))
    field = draw(st.sampled_from(sorted(fields)))
    marker = "@@HOSTILE@@"
    body = {envelope: {**fields, field: marker}}
    text = json.dumps(body).replace(json.dumps(marker), draw(HOSTILE_VALUES))
    return method, url, text


def test_hostile_values_anywhere_are_4xx(app, client, jake):
    @given(request=hostile_requests())
    @settings(
        max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    def check(request: tuple[str, str, str]) -> None:
        method, url, text = request
        response = client.open(
            url, method=method, data=text, content_type="application/json", headers=jake["headers"]
        )
        assert_refused(response, 422)

    check()
    assert rows(app, Article) == 0
    assert rows(app, User) == 1


@given(name=HOSTILE_STRINGS.filter(lambda s: "\x00" in s), where=st.sampled_from(["path", "query"]))
@settings(max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_nul_anywhere_in_a_url_is_422(client, name, where):
    from urllib.parse import quote

    quoted = quote(name.encode("utf-8", "surrogatepass"), safe="")
    url = f"/api/profiles/{quoted}" if where == "path" else f"/api/articles?tag={quoted}"
    assert_refused(client.get(url), 422)
