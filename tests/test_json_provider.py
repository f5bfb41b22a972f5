"""Responses are encoded by orjson (webapp/json_provider.py) with the standard library's
results where they matter to clients: key order kept, non-string keys as strings, UTF-8."""

from __future__ import annotations

import json
from datetime import UTC, datetime


def test_responses_keep_key_order_and_stringify_keys(app):
    with app.app_context():
        response = app.json.response(
            {"z": 1, "a": {2: "two"}, "when": datetime(2026, 1, 1, tzinfo=UTC)}
        )
    assert response.mimetype == "application/json"
    body = response.get_data(as_text=True)
    assert body.endswith("\n")
    assert list(json.loads(body)) == ["z", "a", "when"]
    assert json.loads(body)["a"] == {"2": "two"}
    assert json.loads(body)["when"].startswith("2026-01-01")


def test_non_ascii_text_arrives_intact(client, make_user):
    jake = make_user("jake")
    bio = {"user": {"bio": "Grüße, 東京 🚀"}}
    response = client.put("/api/user", json=bio, headers=jake["headers"])
    assert response.status_code == 200
    assert json.loads(response.get_data())["user"]["bio"] == "Grüße, 東京 🚀"
