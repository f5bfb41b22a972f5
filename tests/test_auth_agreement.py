"""Every operation's documented security agrees with what it does: Token-only operations refuse
anonymous callers before reading the body or query, optional ones serve them, and a bad token is
401 on both. Operations are taken from the OpenAPI document, so new routes are covered."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.test_errors import assert_error_shape

HTTP_METHODS = {"get", "put", "post", "delete", "patch"}
REQUIRED = [{"Token": []}]
OPTIONAL = [{}, {"Token": []}]
# Bodies and queries that would fail validation: auth must answer before they are read.
INVALID_BODIES: list[Any] = [{}, {"user": 5, "article": [], "comment": None}, "not json"]
INVALID_QUERY = {"limit": "abc", "offset": "-1"}
BAD_TOKENS = ["Token not-a-jwt", "Bearer ", "Basic dXNlcjpwYXNz", "Token"]


@pytest.fixture
def spec(client: FlaskClient) -> dict[str, Any]:
    """The OpenAPI document as clients fetch it."""
    return client.get("/api/openapi.json").get_json()


@pytest.fixture
def world(client, make_user, make_article) -> dict[str, Any]:
    """Real path values (so no operation stops at 404 first) and a stranger's token."""
    jake = make_user("jake")
    stranger = make_user("stranger")
    article = make_article(jake, "Agreement")
    comment = client.post(
        f"/api/articles/{article['slug']}/comments",
        json={"comment": {"body": "First"}},
        headers=jake["headers"],
    ).get_json()["comment"]
    values = {"slug": article["slug"], "username": "jake", "comment_id": comment["id"]}
    return {"values": values, "stranger": stranger["headers"]}


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(METHOD, path, operation) for every documented operation."""
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield method.upper(), path, operation


def call(client: FlaskClient, method: str, path: str, values: dict[str, Any], **kwargs: Any):
    """Call an operation with its path parameters filled in."""
    url = re.sub(r"{([^}]+)}", lambda m: str(values[m.group(1)]), path)
    return client.open(url, method=method, **kwargs)


def body_variants(operation: dict[str, Any]) -> list[dict[str, Any]]:
    """Ways to send a request that would be 422 if its body or query were parsed first."""
    variants: list[dict[str, Any]] = [{"query_string": INVALID_QUERY}]
    if "requestBody" in operation:
        variants += [{"json": body} for body in INVALID_BODIES[:2]]
        variants.append({"data": INVALID_BODIES[2], "content_type": "application/json"})
    return variants


def test_every_operation_declares_a_known_security(spec):
    seen = {"required": 0, "optional": 0, "none": 0}
    for method, path, operation in operations(spec):
        security = operation.get("security")
        assert security in (None, REQUIRED, OPTIONAL), (method, path, security)
        if security is not None:
            assert "401" in operation["responses"], (method, path)
        seen[
            "none" if security is None else "required" if security == REQUIRED else "optional"
        ] += 1
    # Guards the walk itself: the contract has operations of each kind.
    assert seen["required"] >= 10
    assert seen["optional"] >= 4
    assert seen["none"] >= 3


def test_token_only_operations_refuse_anonymous_callers_whatever_they_send(client, spec, world):
    checked = 0
    for method, path, operation in operations(spec):
        if operation.get("security") != REQUIRED:
            continue
        for kwargs in body_variants(operation):
            response = call(client, method, path, world["values"], **kwargs)
            assert response.status_code == 401, (method, path, kwargs, response.get_json())
            assert_error_shape(response, 401)
            assert response.headers["WWW-Authenticate"] == "Token"
            checked += 1
    assert checked


def test_optional_operations_serve_anonymous_callers(client, spec, world):
    for method, path, operation in operations(spec):
        if operation.get("security") != OPTIONAL:
            continue
        response = call(client, method, path, world["values"])
        assert response.status_code == 200, (method, path, response.get_json())
        for kwargs in body_variants(operation):
            response = call(client, method, path, world["values"], **kwargs)
            assert response.status_code != 401, (method, path, kwargs)


@pytest.mark.parametrize("header", BAD_TOKENS)
def test_a_bad_token_is_401_wherever_a_token_is_read(client, spec, world, header):
    for method, path, operation in operations(spec):
        if operation.get("security") is None:
            continue
        for kwargs in [{}, *body_variants(operation)]:
            response = call(
                client, method, path, world["values"], headers={"Authorization": header}, **kwargs
            )
            assert response.status_code == 401, (method, path, header, kwargs)


def test_a_valid_token_is_never_401(client, spec, world):
    # The stranger owns nothing, so writes are 403/422 or idempotent, never 401.
    for method, path, operation in operations(spec):
        if operation.get("security") is None:
            continue
        for kwargs in [{}, *body_variants(operation)]:
            response = call(
                client, method, path, world["values"], headers=world["stranger"], **kwargs
            )
            assert response.status_code != 401, (method, path, kwargs, response.get_json())


def test_operations_without_security_ignore_the_token(client, spec, world):
    for method, path, operation in operations(spec):
        if operation.get("security") is not None or method != "GET":
            continue
        anonymous = call(client, method, path, world["values"])
        with_token = call(client, method, path, world["values"], headers=world["stranger"])
        assert anonymous.status_code == with_token.status_code == 200, (method, path)


@pytest.mark.parametrize(
    "scheme", ["Token", "token", "TOKEN", "Bearer", "bearer", "BEARER", "ToKeN"]
)
def test_the_auth_scheme_is_case_insensitive_and_bearer_works(client, make_user, scheme):
    jake = make_user("jake")
    response = client.get("/api/user", headers={"Authorization": f"{scheme} {jake['token']}"})
    assert response.status_code == 200
    assert response.get_json()["user"]["username"] == "jake"


@pytest.mark.parametrize("scheme", ["Basic", "JWT", "Tokens", "Bearer:"])
def test_other_auth_schemes_are_401(client, make_user, scheme):
    jake = make_user("jake")
    response = client.get("/api/user", headers={"Authorization": f"{scheme} {jake['token']}"})
    assert_error_shape(response, 401)
