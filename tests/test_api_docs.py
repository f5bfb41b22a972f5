"""The OpenAPI document covers every operation of the RealWorld contract."""

from __future__ import annotations

OPERATIONS = {
    ("post", "/api/users"),
    ("post", "/api/users/login"),
    ("get", "/api/user"),
    ("put", "/api/user"),
    ("get", "/api/profiles/{username}"),
    ("post", "/api/profiles/{username}/follow"),
    ("delete", "/api/profiles/{username}/follow"),
    ("get", "/api/articles"),
    ("post", "/api/articles"),
    ("get", "/api/articles/feed"),
    ("get", "/api/articles/{slug}"),
    ("put", "/api/articles/{slug}"),
    ("delete", "/api/articles/{slug}"),
    ("post", "/api/articles/{slug}/favorite"),
    ("delete", "/api/articles/{slug}/favorite"),
    ("get", "/api/articles/{slug}/comments"),
    ("post", "/api/articles/{slug}/comments"),
    ("delete", "/api/articles/{slug}/comments/{comment_id}"),
    ("get", "/api/tags"),
}


def test_openapi_lists_every_operation(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    paths = response.get_json()["paths"]
    documented = {
        (method, path)
        for path, item in paths.items()
        for method in item
        if method in {"get", "post", "put", "delete"}
    }
    assert documented == OPERATIONS
    create = paths["/api/articles"]["post"]
    assert "201" in create["responses"]
    assert create["security"] == [{"Token": []}]
