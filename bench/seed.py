"""Deterministic benchmark data, written through the public HTTP API of any Conduit server.

Only the RealWorld contract is used (register or log in, create articles, follow, favorite,
comment), so the same data can be seeded into this app or any other implementation.
"""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

TAGS = ["dragons", "training", "python", "flask", "sqlalchemy", "postgres", "http", "testing"]
PASSWORD = "bench-password-1"


class SeedError(RuntimeError):
    """The server answered a seeding request with something unexpected."""


class Client:
    """A tiny keep-alive JSON client for one server (no third-party dependency)."""

    def __init__(self, base_url: str, timeout: float = 30.0) -> None:
        parts = urlsplit(base_url)
        self.prefix = parts.path.rstrip("/")
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        connection_class = (
            http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        )
        self.connection = connection_class(self.host, self.port, timeout=timeout)

    def request(
        self, method: str, path: str, body: Any = None, token: str | None = None
    ) -> tuple[int, Any]:
        """(status, decoded JSON or None) for one request."""
        headers = {"Accept": "application/json"}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = f"Token {token}"
        try:
            self.connection.request(method, self.prefix + path, payload, headers)
            response = self.connection.getresponse()
        except (ConnectionError, http.client.HTTPException):
            # The server closed a kept-alive connection: reconnect once.
            self.connection.close()
            self.connection.request(method, self.prefix + path, payload, headers)
            response = self.connection.getresponse()
        raw = response.read()
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = None
        return response.status, data

    def expect(
        self, method: str, path: str, body: Any = None, token: str | None = None
    ) -> dict[str, Any]:
        """The JSON of a 2xx answer; SeedError otherwise."""
        status, data = self.request(method, path, body, token)
        if not 200 <= status < 300:
            raise SeedError(f"{method} {path} -> {status}: {data}")
        return data or {}

    def close(self) -> None:
        """Close the kept-alive connection."""
        self.connection.close()


@dataclass
class Seeded:
    """What the benchmark needs to address the seeded data."""

    reader_token: str
    writer_token: str
    slugs: list[str] = field(default_factory=list)
    commented_slug: str | None = None
    tag: str = TAGS[0]
    notes: list[str] = field(default_factory=list)

    @property
    def has_articles(self) -> bool:
        """Whether the server accepted articles (the endpoints exist)."""
        return bool(self.slugs)


def account(client: Client, username: str) -> str:
    """Register username (or log in if it already exists from an earlier run); its token."""
    email = f"{username}@bench.example.com"
    user = {"username": username, "email": email, "password": PASSWORD}
    status, data = client.request("POST", "/api/users", {"user": user})
    if status in (200, 201):
        return data["user"]["token"]
    login = client.expect(
        "POST", "/api/users/login", {"user": {"email": email, "password": PASSWORD}}
    )
    return login["user"]["token"]


def seed(
    base_url: str, *, users: int = 10, articles_per_user: int = 10, comments: int = 20
) -> Seeded:
    """Users, articles with tags, follows, favorites and comments; the same every run."""
    client = Client(base_url)
    try:
        return _seed(client, users, articles_per_user, comments)
    finally:
        client.close()


def _seed(client: Client, users: int, articles_per_user: int, comments: int) -> Seeded:
    reader = account(client, "bench-reader")
    writer = account(client, "bench-writer")
    authors = [
        (f"bench-author-{i:02d}", account(client, f"bench-author-{i:02d}")) for i in range(users)
    ]
    seeded = Seeded(reader_token=reader, writer_token=writer)

    # Articles, interleaved by author so every page mixes authors; 1-3 tags each.
    for n in range(articles_per_user):
        for i, (username, token) in enumerate(authors):
            k = n * users + i
            article = {
                "title": f"Bench article {k:04d} by {username}",
                "description": f"Article {k} of the benchmark data set",
                "body": f"Body of benchmark article {k}. " * 20,
                "tagList": [TAGS[(k + j) % len(TAGS)] for j in range(1 + k % 3)],
            }
            status, data = client.request("POST", "/api/articles", {"article": article}, token)
            if status in (404, 405) and not seeded.slugs:
                seeded.notes.append(f"POST /api/articles -> {status}: no articles seeded")
                return seeded
            if not 200 <= status < 300:
                raise SeedError(f"POST /api/articles -> {status}: {data}")
            seeded.slugs.append(data["article"]["slug"])

    # The reader follows a third of the authors: their articles make the feed.
    for username, _ in authors[: max(1, users // 3)]:
        client.expect("POST", f"/api/profiles/{username}/follow", token=reader)

    # Favorites: the reader likes every third article; authors like a spread of others.
    for k, slug in enumerate(seeded.slugs):
        if k % 3 == 0:
            client.expect("POST", f"/api/articles/{slug}/favorite", token=reader)
        for i, (_, token) in enumerate(authors):
            if (k + i) % 4 == 0:
                client.expect("POST", f"/api/articles/{slug}/favorite", token=token)

    # One article carries a full page of comments, from several authors.
    seeded.commented_slug = seeded.slugs[0]
    for c in range(comments):
        _, token = authors[c % len(authors)]
        body = {"comment": {"body": f"Benchmark comment {c} on the first article."}}
        client.expect("POST", f"/api/articles/{seeded.commented_slug}/comments", body, token)
    return seeded
