"""Headers that protect what a browser holds: tokens are never cached, and the docs page may run
only its own scripts and may not be framed."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest

# The API's behaviour: every test that uses `client` runs against both apps.
pytestmark = pytest.mark.contract

CREDENTIALS = {"user": {"username": "jake", "email": "jake@jake.jake", "password": "jakejake"}}


def directives(policy: str) -> dict[str, list[str]]:
    """A Content-Security-Policy header as {directive: [sources]}."""
    parsed = {}
    for part in policy.split(";"):
        name, *sources = part.split()
        parsed[name] = sources
    return parsed


def test_every_response_that_carries_a_token_is_no_store(client):
    registered = client.post("/api/users", json=CREDENTIALS)
    login = {"user": {"email": "jake@jake.jake", "password": "jakejake"}}
    logged_in = client.post("/api/users/login", json=login)
    headers = {"Authorization": f"Token {logged_in.get_json()['user']['token']}"}
    current = client.get("/api/user", headers=headers)
    updated = client.put("/api/user", json={"user": {"bio": "statefarm"}}, headers=headers)

    for response in (registered, logged_in, current, updated):
        assert "token" in response.get_json()["user"]
        assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/users/login", {"user": {"email": "jake@jake.jake", "password": "wrong"}}),
        ("GET", "/api/user", None),
    ],
)
def test_failed_token_requests_are_no_store_too(client, method, path, body):
    response = client.open(path, method=method, json=body)
    assert response.status_code == 401
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.flask_only(
    "the Flask app serves Swagger UI's files itself; FastAPI's docs page loads them from a CDN"
)
def test_docs_page_allows_only_its_own_scripts_and_no_framing(client):
    response = client.get("/api/docs")
    assert response.status_code == 200
    assert response.headers["X-Frame-Options"] == "DENY"
    policy = directives(response.headers["Content-Security-Policy"])
    assert policy["default-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in policy["script-src"]
    assert "'unsafe-eval'" not in policy["script-src"]
    assert not any(source.startswith("http") for sources in policy.values() for source in sources)
    # The page's inline start-up script is allowed by its exact hash, and nothing else inline.
    inline = re.findall(r"<script>(.*?)</script>", response.get_data(as_text=True), re.DOTALL)
    assert len(inline) == 1
    digest = base64.b64encode(hashlib.sha256(inline[0].encode()).digest()).decode()
    assert policy["script-src"] == ["'self'", f"'sha256-{digest}'"]
