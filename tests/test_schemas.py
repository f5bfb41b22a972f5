"""ResponseSchema dumps exactly what marshmallow's own Schema._serialize dumps, on the API's
response shapes and on the cases its shortcuts must hand back to marshmallow."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import Schema, fields

from webapp import schemas
from webapp.core.queries import ArticleView, CommentView, ProfileView

text = st.text(max_size=12)
moments = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1), timezones=st.none()
) | st.datetimes(
    min_value=datetime(1970, 1, 2),
    max_value=datetime(2200, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))]),
)
profiles = st.builds(ProfileView, text, text, text, st.booleans())
articles = st.builds(
    ArticleView,
    slug=text,
    title=text,
    description=text,
    tag_list=st.lists(text, max_size=4),
    created_at=moments,
    updated_at=moments,
    favorited=st.booleans(),
    favorites_count=st.integers(min_value=0, max_value=10**6),
    author=profiles,
    body=st.none() | text,
)
comments = st.builds(CommentView, st.integers(1, 10**9), moments, moments, text, profiles)


def marshmallow_dump(schema: Schema, obj: object, monkeypatch: pytest.MonkeyPatch) -> object:
    """What marshmallow itself dumps: ResponseSchema's fast path switched off at every level."""
    with monkeypatch.context() as patch:
        patch.setattr(schemas.ResponseSchema, "_serialize", Schema._serialize)
        return schema.dump(obj)


@settings(max_examples=60, deadline=None)
@given(page=st.lists(articles, max_size=5), total=st.integers(0, 10**6), one=articles)
def test_articles_dump_as_marshmallow_does(page, total, one):
    with pytest.MonkeyPatch.context() as monkeypatch:
        listing = schemas.ArticlePage()
        payload = {"articles": page, "articlesCount": total}
        assert listing.dump(payload) == marshmallow_dump(listing, payload, monkeypatch)
        single = schemas.ArticleResponse()
        envelope = {"article": one}
        assert single.dump(envelope) == marshmallow_dump(single, envelope, monkeypatch)


@settings(max_examples=40, deadline=None)
@given(listed=st.lists(comments, max_size=4), profile=profiles)
def test_comments_and_profiles_dump_as_marshmallow_does(listed, profile):
    with pytest.MonkeyPatch.context() as monkeypatch:
        schema = schemas.CommentList()
        payload = {"comments": listed}
        assert schema.dump(payload) == marshmallow_dump(schema, payload, monkeypatch)
        one = schemas.ProfileResponse()
        assert one.dump({"profile": profile}) == marshmallow_dump(
            one, {"profile": profile}, monkeypatch
        )


def test_dates_are_utc_milliseconds_with_z():
    field = schemas.UTCDateTime()
    aware = datetime(2026, 11, 25, 12, 34, 56, 789999, tzinfo=timezone(timedelta(hours=2)))
    assert field.serialize("at", {"at": aware}) == "2026-11-25T10:34:56.789Z"
    naive = datetime(2026, 11, 25, 12, 34, 56)  # SQLite's: stored in UTC
    assert field.serialize("at", {"at": naive}) == "2026-11-25T12:34:56.000Z"
    # The same text as isoformat's, milliseconds truncated, on dates of every shape.
    for value in (
        datetime(2026, 1, 2, 3, 4, 5, 999, tzinfo=UTC),
        datetime(999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 11, 25, 0, 0, 0, 1000),
    ):
        expected = value.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"
        assert field.serialize("at", {"at": value}) == expected
    assert field.serialize("at", {"at": None}) is None


def test_values_the_shortcuts_do_not_cover_go_through_marshmallow(monkeypatch):
    class Odd(schemas.ResponseSchema):
        count = fields.Integer()  # given a string: marshmallow turns it into an int
        name = fields.String(dump_default="anonymous")  # missing: the default
        nested = fields.String(attribute="inner.value")  # a dotted path
        flag = fields.Boolean()  # given 1: marshmallow's truthy set

    expected = {"count": 7, "name": "anonymous", "nested": "deep", "flag": True}
    mapping = {"count": "7", "inner": {"value": "deep"}, "flag": 1}
    # An object takes the plan compiled for objects, a mapping the plan's loop: same fallbacks.
    obj = SimpleNamespace(count="7", inner=SimpleNamespace(value="deep"), flag=1)
    for each in (mapping, obj):
        assert Odd().dump(each) == expected
        assert Odd().dump(each) == marshmallow_dump(Odd(), each, monkeypatch)


def test_views_the_shortcuts_do_not_cover_go_through_marshmallow(monkeypatch):
    """Values of other types than a view declares (a tag that is not a string, an author given
    as a mapping, none at all) dump as marshmallow dumps them, at every level."""
    author = ProfileView("jake", "", "", following=False)
    at = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    odd = [
        ArticleView("s", "t", "d", ["a", 1], at, at, True, 3, author),  # type: ignore[list-item]
        ArticleView("s", "t", "d", ("a",), at, at, 1, "3", author),  # type: ignore[arg-type]
        ArticleView(
            "s",
            None,
            "d",
            [],
            None,
            at,
            False,
            0,
            {"username": "ann", "bio": None, "image": "", "following": 0},
        ),  # type: ignore[arg-type]
        ArticleView("s", "t", "d", [], at, at, False, 0, None),  # type: ignore[arg-type]
        SimpleNamespace(slug="s", author=author),  # missing fields: left out, as marshmallow does
    ]
    listing = schemas.ArticlePage()
    payload = {"articles": odd, "articlesCount": len(odd)}
    assert listing.dump(payload) == marshmallow_dump(listing, payload, monkeypatch)
    assert listing.dump(payload)["articles"][0]["tagList"] == ["a", "1"]


def test_fields_that_read_the_object_go_through_marshmallow(monkeypatch):
    class Computed(schemas.ResponseSchema):
        label = fields.Function(lambda obj: obj["name"].upper())
        name = fields.String()

    obj = {"name": "jake", "label": "ignored: a Function field reads the object"}
    assert Computed().dump(obj) == {"label": "JAKE", "name": "jake"}
    assert Computed().dump(obj) == marshmallow_dump(Computed(), obj, monkeypatch)


@pytest.mark.parametrize(
    "query",
    ["", "limit=5", "limit=5&limit=7", "tag=a&tag=b&offset=3", "other=x&limit=2", "ids=1&ids=2"],
)
def test_query_strings_reach_schemas_as_webargs_hands_them(query):
    """The parser's plain dict for single-value schemas (webapp.api.Parser.load_querystring)
    loads exactly what webargs' own multi-dict proxy does; a list field still gets every value."""
    from flask import Flask, request
    from marshmallow import EXCLUDE
    from webargs.flaskparser import FlaskParser

    from webapp.api import Parser

    class Listed(Schema):
        ids = fields.List(fields.Integer())
        tag = fields.String()

    app = Flask(__name__)
    with app.test_request_context(f"/?{query}"):
        for schema in (schemas.ArticleFilterArgsSchema(), schemas.PageArgsSchema(), Listed()):
            ours = Parser().parse(schema, request, location="query", unknown=EXCLUDE)
            theirs = FlaskParser().parse(schema, request, location="query", unknown=EXCLUDE)
            assert ours == theirs
        args = Parser().parse(Listed(), request, location="query", unknown=EXCLUDE)
        assert args.get("ids", []) == [int(v) for v in request.args.getlist("ids")]
