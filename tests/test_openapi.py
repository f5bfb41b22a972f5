"""The OpenAPI document: valid, and a faithful map of the app's routes, statuses and security.

Every check is derived from app.url_map and the document itself, so routes added later are covered
without touching this module.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openapi_spec_validator import validate

# The tag names the RealWorld contract groups its operations under.
CONTRACT_TAGS = {
    "Articles",
    "Comments",
    "Favorites",
    "Profile",
    "Tags",
    "User and Authentication",
}
# The platform's probes (webapp/health.py), outside the contract.
PROBE_TAG = "Health"
# Routes that serve the documentation itself rather than the API.
DOC_BLUEPRINTS = {"api-docs", "docs-assets"}
IGNORED_METHODS = {"HEAD", "OPTIONS"}
HTTP_METHODS = {"get", "put", "post", "delete", "patch"}

Operation = tuple[str, str]  # (METHOD, /path/{param})


@pytest.fixture
def spec(client: FlaskClient) -> dict[str, Any]:
    """The document exactly as clients fetch it."""
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.get_json()


def openapi_path(rule: str) -> str:
    """/api/articles/<slug> or <int:id> -> /api/articles/{slug}, the OpenAPI spelling."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def app_operations(app: Flask) -> set[Operation]:
    """Every (method, path) the app answers (the health probes included), documentation aside."""
    operations = set()
    for rule in app.url_map.iter_rules():
        blueprint = rule.endpoint.rpartition(".")[0]
        if blueprint in DOC_BLUEPRINTS or rule.endpoint == "static":
            continue
        for method in (rule.methods or set()) - IGNORED_METHODS:
            operations.add((method, openapi_path(rule.rule)))
    return operations


def documented(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(METHOD, path, operation object) for every operation in the document."""
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield method.upper(), path, operation


def resolve(spec: dict[str, Any], obj: dict[str, Any]) -> dict[str, Any]:
    """Follow a local $ref (#/components/...) to the object it names."""
    while "$ref" in obj:
        node: Any = spec
        for part in obj["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        obj = node
    return obj


def json_schema_ref(spec: dict[str, Any], response: dict[str, Any]) -> str | None:
    """The $ref of a response's application/json schema, if it has one."""
    content = resolve(spec, response).get("content", {})
    return content.get("application/json", {}).get("schema", {}).get("$ref")


def test_document_is_valid_openapi_3_1(spec):
    validate(spec)  # raises with the offending location when the document is invalid
    assert spec["openapi"] == "3.1.0"
    assert spec["info"]["title"] == "Conduit API"
    assert spec["info"]["version"]
    assert spec["servers"] == [{"url": "/"}]


def test_every_route_is_documented_and_nothing_else(app, spec):
    in_document = {(method, path) for method, path, _ in documented(spec)}
    in_app = app_operations(app)
    assert in_document == in_app, {
        "undocumented": sorted(in_app - in_document),
        "not served": sorted(in_document - in_app),
    }


def test_known_routes_are_counted(app):
    # Guards the derivation above: the users routes must be seen, the docs routes must not.
    operations = app_operations(app)
    assert {("POST", "/api/users"), ("GET", "/api/user"), ("PUT", "/api/user")} <= operations
    assert not any(path.startswith(("/api/docs", "/api/openapi")) for _, path in operations)


def test_openapi_path_converts_flask_converters():
    rule = "/api/articles/<slug>/comments/<int:id>"
    assert openapi_path(rule) == "/api/articles/{slug}/comments/{id}"


def test_operations_carry_the_contract_tags(spec):
    used = set()
    for method, path, operation in documented(spec):
        assert operation.get("tags"), f"{method} {path} has no tag"
        allowed = CONTRACT_TAGS if path.startswith("/api/") else {PROBE_TAG}
        assert set(operation["tags"]) <= allowed, (method, path, operation["tags"])
        used.update(operation["tags"])
    declared = [tag["name"] for tag in spec["tags"]]
    assert len(declared) == len(set(declared))
    assert set(declared) == used


def test_every_operation_documents_its_success_response(spec):
    for method, path, operation in documented(spec):
        successes = [status for status in operation["responses"] if status.startswith("2")]
        assert len(successes) == 1, (method, path, successes)
        if successes[0] != "204":
            response = operation["responses"][successes[0]]
            assert json_schema_ref(spec, response), (method, path)


def test_every_error_response_uses_the_error_schema(spec):
    assert spec["components"]["schemas"]["Error"]["properties"]["errors"]["required"] == ["body"]
    for method, path, operation in documented(spec):
        assert "default" in operation["responses"], (method, path)
        for status, response in operation["responses"].items():
            if not status.startswith("2"):
                ref = json_schema_ref(spec, response)
                assert ref == "#/components/schemas/Error", (method, path, status)


def test_request_bodies_are_json_and_invalid_input_is_documented(spec):
    for method, path, operation in documented(spec):
        if "requestBody" in operation:
            body = operation["requestBody"]
            assert body["required"] is True
            assert body["content"]["application/json"]["schema"]["$ref"]
            assert "422" in operation["responses"], (method, path)


def test_security_names_the_token_scheme(spec):
    scheme = spec["components"]["securitySchemes"]["Token"]
    assert scheme == {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": scheme["description"],
    }
    assert "security" not in spec  # anonymous unless an operation says otherwise
    for method, path, operation in documented(spec):
        security = operation.get("security", [])
        assert all(req in ({}, {"Token": []}) for req in security), (method, path)
        if security and {} not in security:
            assert "401" in operation["responses"], (method, path)


def test_token_is_required_exactly_where_documented(client, spec, make_user):
    token = make_user()["headers"]
    assert client.get("/api/user").status_code == 401
    assert client.get("/api/user", headers=token).status_code == 200
    operation = spec["paths"]["/api/user"]["get"]
    assert operation["security"] == [{"Token": []}]
    assert "security" not in spec["paths"]["/api/users"]["post"]


def test_anonymous_calls_answer_only_documented_statuses(client, spec):
    # Each operation is called without a token, with an empty JSON body where it takes one and
    # placeholder path parameters: whatever it answers must be in its responses, in the error shape.
    for method, path, operation in documented(spec):
        url = re.sub(r"{[^}]+}", "999999", path)
        kwargs = {"json": {}} if "requestBody" in operation else {}
        response = client.open(url, method=method, **kwargs)
        assert str(response.status_code) in operation["responses"], (method, path, response.status)
        if response.status_code >= 400:
            errors = response.get_json()["errors"]
            assert errors["body"]
            assert all(isinstance(message, str) for message in errors["body"])


def test_docs_page_loads_its_assets_from_the_app(client):
    page = client.get("/api/docs")
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "/api/openapi.json" in html
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert {"/api/docs/assets/swagger-ui-bundle.js", "/api/docs/assets/swagger-ui.css"} <= set(
        assets
    )
    assert not [url for url in assets if "//" in url]  # no CDN: everything comes from this app
    for url in assets:
        with client.get(url) as response:  # a file response: close it
            assert response.status_code == 200, url
            assert len(response.data) > 1000, url
            if url.endswith(".js"):
                assert response.mimetype == "text/javascript"
            if url.endswith(".css"):
                assert response.mimetype == "text/css"


def test_docs_assets_outside_the_package_are_not_served(client):
    assert client.get("/api/docs/assets/no-such-file.js").status_code == 404
    response = client.get("/api/docs/assets/../../../etc/passwd")
    assert response.status_code == 404
    assert response.get_json()["errors"]["body"]


def test_every_rate_limited_operation_documents_429(spec: dict[str, Any]) -> None:
    # Writes by a signed-in user, logins and registrations are rate limited (webapp/limits.py).
    limited = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            signed_in_write = method in {"post", "put", "patch", "delete"} and operation.get(
                "security"
            ) == [{"Token": []}]
            if signed_in_write or path in {"/api/users", "/api/users/login"}:
                limited.append((method, path))
                assert "429" in operation["responses"], (method, path)
    assert len(limited) == 12, limited
