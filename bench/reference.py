"""Hand-written reference for the benchmark: the article list and feed without ORM or schemas.

A bare WSGI app (run under the same gunicorn settings as the real one) that answers
GET /api/articles and GET /api/articles/feed with ONE hand-written SQL statement against the
same tables (webapp/core/models.py) and serializes the rows by hand into the same JSON. Comparing
its throughput with the app's shows what the ORM, marshmallow and flask-smorest cost. Bench-only
code: it validates nothing beyond what these two reads need.

    DATABASE_URL=postgresql://... SECRET_KEY=... gunicorn bench.reference:app
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import jwt
import psycopg

# One statement: the page with author, tags and the reader's flags, plus the total and the
# reader's current token version (initplans, computed once). %(feed)s limits it to authors the
# reader follows.
PAGE_SQL = """
SELECT (SELECT token_version FROM users WHERE id = %(reader)s) AS reader_version,
       a.slug, a.title, a.description, a.created_at, a.updated_at,
       ARRAY(SELECT t.name FROM article_tags at JOIN tags t ON t.id = at.tag_id
             WHERE at.article_id = a.id ORDER BY t.name) AS tag_list,
       EXISTS (SELECT 1 FROM favorites f
               WHERE f.article_id = a.id AND f.user_id = %(reader)s) AS favorited,
       (SELECT count(*) FROM favorites f WHERE f.article_id = a.id) AS favorites_count,
       u.username, u.bio, u.image,
       EXISTS (SELECT 1 FROM follows fo
               WHERE fo.follower_id = %(reader)s AND fo.followed_id = u.id) AS following,
       (SELECT count(*) FROM articles a2
        WHERE NOT %(feed)s OR a2.author_id IN (
            SELECT followed_id FROM follows WHERE follower_id = %(reader)s)) AS total
FROM articles a JOIN users u ON u.id = a.author_id
WHERE NOT %(feed)s
   OR a.author_id IN (SELECT followed_id FROM follows WHERE follower_id = %(reader)s)
ORDER BY a.created_at DESC, a.id DESC
LIMIT %(limit)s OFFSET %(offset)s
"""

StartResponse = Callable[[str, list[tuple[str, str]]], Any]

_local = threading.local()


def database_url() -> str:
    """DATABASE_URL in libpq form (SQLAlchemy's +psycopg driver suffix removed)."""
    return os.environ["DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://", 1)


def connection() -> psycopg.Connection:
    """One autocommit connection per worker thread, opened after the fork on first use."""
    conn = getattr(_local, "connection", None)
    if conn is None or conn.closed:
        conn = psycopg.connect(database_url(), autocommit=True)
        _local.connection = conn
    return conn


def iso(value: datetime) -> str:
    """UTC, milliseconds, trailing Z: the app's date format."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def respond(start_response: StartResponse, status: str, payload: dict[str, Any]) -> Iterable[bytes]:
    """A JSON response."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]


def error(start_response: StartResponse, status: str, message: str) -> Iterable[bytes]:
    """A GenericErrorModel response."""
    return respond(start_response, status, {"errors": {"body": [message]}})


def reader_claims(environ: dict[str, Any]) -> tuple[int, int] | None:
    """The token's user id and token version; None without a token. Raises jwt errors for a
    bad one."""
    header = environ.get("HTTP_AUTHORIZATION", "")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme != "Token":
        raise jwt.InvalidTokenError("not a Token header")
    claims = jwt.decode(
        token.strip(),
        os.environ["SECRET_KEY"],
        algorithms=["HS256"],
        options={"require": ["exp", "sub"]},
    )
    return int(claims["sub"]), int(claims.get("ver", 0))


def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """GET /api/articles and /api/articles/feed (limit, offset); anything else is 404."""
    path = environ.get("PATH_INFO", "")
    if environ.get("REQUEST_METHOD") != "GET" or path not in (
        "/api/articles",
        "/api/articles/feed",
    ):
        return error(start_response, "404 NOT FOUND", "Not found.")
    try:
        claims = reader_claims(environ)
    except (jwt.PyJWTError, ValueError):
        return error(start_response, "401 UNAUTHORIZED", "Token is invalid or expired.")
    reader, version = claims if claims is not None else (None, None)
    feed = path.endswith("/feed")
    if feed and reader is None:
        return error(start_response, "401 UNAUTHORIZED", "Authentication required.")
    query = parse_qs(environ.get("QUERY_STRING", ""))
    try:
        limit = min(max(int(query.get("limit", ["20"])[0]), 1), 100)
        offset = max(int(query.get("offset", ["0"])[0]), 0)
    except ValueError:
        return error(start_response, "422 UNPROCESSABLE ENTITY", "limit and offset are integers.")

    params = {"reader": reader, "feed": feed, "limit": limit, "offset": offset}
    rows = connection().execute(PAGE_SQL, params).fetchall()
    # Revoked tokens and deleted accounts are refused, as the app does (checked only when the
    # page has rows: bench-only code).
    if reader is not None and rows and rows[0][0] != version:
        return error(start_response, "401 UNAUTHORIZED", "Token is invalid or expired.")
    articles = [
        {
            "slug": slug,
            "title": title,
            "description": description,
            "tagList": tag_list,
            "createdAt": iso(created_at),
            "updatedAt": iso(updated_at),
            "favorited": favorited,
            "favoritesCount": favorites_count,
            "author": {
                "username": username,
                "bio": bio,
                "image": image,
                "following": following,
            },
        }
        for (
            _reader_version,
            slug,
            title,
            description,
            created_at,
            updated_at,
            tag_list,
            favorited,
            favorites_count,
            username,
            bio,
            image,
            following,
            _total,
        ) in rows
    ]
    total = rows[0][-1] if rows else 0
    return respond(start_response, "200 OK", {"articles": articles, "articlesCount": total})
