"""Request ids, log lines, CORS and security headers, as a client and an operator see them."""

from __future__ import annotations

import io
import json
import logging

import pytest
from flask import request

from config import TestConfig
from webapp.app import create_app
from webapp.extensions import db
from webapp.observability import (
    AccessLogFields,
    RequestIdFilter,
    logging_config,
    make_formatter,
)

REQUEST_ID = "X-Request-ID"


def test_a_valid_request_id_is_echoed(client):
    response = client.get("/healthz", headers={REQUEST_ID: "req-42.abc:7"})
    assert response.headers[REQUEST_ID] == "req-42.abc:7"


@pytest.mark.parametrize("sent", [None, "", "has space", "x" * 129, "a;b", "<script>", "é-accent"])
def test_a_missing_or_malformed_request_id_is_replaced(client, sent):
    headers = {} if sent is None else {REQUEST_ID: sent}
    first = client.get("/healthz", headers=headers).headers[REQUEST_ID]
    second = client.get("/healthz", headers=headers).headers[REQUEST_ID]
    assert first != sent
    assert len(first) == 32
    assert first != second


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("get", "/api/user", 401), ("get", "/api/nope", 404), ("post", "/api/users", 422)],
)
def test_errors_carry_the_request_id_and_nosniff(client, method, path, status):
    response = getattr(client, method)(path, json={}, headers={REQUEST_ID: "err-1"})
    assert response.status_code == status
    assert response.headers[REQUEST_ID] == "err-1"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_unexpected_errors_carry_the_request_id(app, client, monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("webapp.api.users.ensure_available", explode)
    payload = {"user": {"username": "a", "email": "a@b.co", "password": "password1"}}
    response = client.post("/api/users", json=payload, headers={REQUEST_ID: "boom-1"})
    assert response.status_code == 500
    assert response.headers[REQUEST_ID] == "boom-1"


def capture(logger_name: str, log_format: str = "text") -> tuple[logging.Handler, io.StringIO]:
    """A handler wired like the server's: the request id filter and the configured format."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(AccessLogFields())
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(make_formatter(log_format))
    logging.getLogger(logger_name).addHandler(handler)
    return handler, stream


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_log_lines_of_a_request_carry_its_id(database_url, log_format):
    # An unreachable database makes the error layer log a warning during the request.
    url = (
        "postgresql+psycopg://postgres@127.0.0.1:9/none"
        if "postgresql" in database_url
        else "sqlite:////nonexistent-dir/x.db"
    )
    app = create_app(TestConfig, {"SQLALCHEMY_DATABASE_URI": url})
    handler, stream = capture("webapp", log_format)
    try:
        response = app.test_client().get(
            "/readyz", headers={REQUEST_ID: "trace-me-1", "Authorization": "Token sekrit"}
        )
        logging.getLogger("webapp").warning("outside any request")
    finally:
        logging.getLogger("webapp").removeHandler(handler)
    assert response.status_code == 503
    output = stream.getvalue()
    assert "sekrit" not in output
    if log_format == "json":
        during, after = (json.loads(line) for line in output.splitlines())
        assert during["request_id"] == "trace-me-1"
        assert during["level"] == "WARNING"
        assert "database unavailable" in during["message"]
        assert after["request_id"] == "-"
    else:
        assert "[trace-me-1] database unavailable" in output
        assert "[-] outside any request" in output


def access_record(**atoms: object) -> logging.LogRecord:
    """A record shaped like gunicorn's access log: the format with its atoms as the mapping."""
    atoms = {"h": "10.0.0.1", "m": "GET", "U": "/api/tags", "s": "200", "D": 1500, **atoms}
    atoms["{x-request-id}o"] = atoms.pop("rid", "r-9")
    fmt = '%(h)s "%(m)s %(U)s" %(s)s'
    return logging.LogRecord("gunicorn.access", logging.INFO, __file__, 1, fmt, (atoms,), None)


def test_access_lines_in_json_have_the_request_fields():
    record = access_record()
    for f in (AccessLogFields(), RequestIdFilter()):
        f.filter(record)
    line = json.loads(make_formatter("json").format(record))
    assert line["method"] == "GET"
    assert line["path"] == "/api/tags"
    assert line["status"] == 200
    assert line["duration_ms"] == 1.5
    assert line["request_id"] == "r-9"
    assert line["message"] == '10.0.0.1 "GET /api/tags" 200'


def test_access_lines_in_text_show_the_request_id():
    record = access_record(rid="text-rid")
    for f in (AccessLogFields(), RequestIdFilter()):
        f.filter(record)
    assert '[text-rid] 10.0.0.1 "GET /api/tags" 200' in make_formatter("text").format(record)


def test_an_unknown_log_format_is_refused():
    with pytest.raises(ValueError, match="LOG_FORMAT"):
        make_formatter("xml")


def test_server_logging_config_routes_everything_through_one_handler():
    config = logging_config("json", "WARNING")
    assert config["root"] == {"level": "WARNING", "handlers": ["default"]}
    assert config["handlers"]["default"]["filters"] == ["access_fields", "request_id"]
    assert all(logger["propagate"] for logger in config["loggers"].values())


def cors_app(database_url, origins):
    return create_app(
        TestConfig, {"SQLALCHEMY_DATABASE_URI": database_url, "CORS_ORIGINS": origins}
    )


def test_cors_allows_configured_origins_only(database_url):
    client = cors_app(database_url, ["https://app.example.com"]).test_client()
    allowed = client.get("/api/user", headers={"Origin": "https://app.example.com"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert REQUEST_ID in allowed.headers["Access-Control-Expose-Headers"]
    other = client.get("/api/user", headers={"Origin": "https://evil.example.net"})
    assert "Access-Control-Allow-Origin" not in other.headers


def test_cors_preflight_allows_the_token_header(database_url):
    client = cors_app(database_url, ["https://app.example.com"]).test_client()
    response = client.options(
        "/api/user",
        headers={
            "Origin": "https://app.example.com",
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "Authorization, Content-Type",
        },
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "PUT" in response.headers["Access-Control-Allow-Methods"]
    assert "authorization" in response.headers["Access-Control-Allow-Headers"].lower()


def test_no_cors_headers_without_configured_origins(client):
    response = client.get("/api/user", headers={"Origin": "https://app.example.com"})
    assert "Access-Control-Allow-Origin" not in response.headers


@pytest.mark.parametrize("origins", [[], ["https://app.example.com"]])
def test_in_production_only_configured_origins_get_cors_headers(database_url, origins):
    """Production allows no browser origin unless CORS_ORIGINS names it; preflights still
    answer (without CORS headers, so the browser refuses the call)."""
    app = create_app(
        TestConfig,
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "APP_ENV": "production",
            "SECRET_KEY": "a-production-secret-key-of-more-than-32-characters",
            "CORS_ORIGINS": origins,
        },
    )
    client = app.test_client()
    preflight = {
        "Origin": "https://app.example.com",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    answer = client.options("/api/articles", headers=preflight)
    read = client.get("/api/tags", headers={"Origin": "https://app.example.com"})
    assert (answer.status_code, read.status_code) == (200, 200)
    for response in (answer, read):
        allowed = response.headers.get("Access-Control-Allow-Origin")
        assert allowed == ("https://app.example.com" if origins else None)
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    local = client.get("/api/tags", headers={"Origin": "http://localhost:4200"})
    assert "Access-Control-Allow-Origin" not in local.headers
    with app.app_context():
        db.engine.dispose()  # the pooled connection /api/tags opened (PostgreSQL)


def url_root_seen(app, headers):
    """The URL root the app sees for a request with these headers."""
    client = app.test_client()
    with client:
        client.get("/healthz", headers=headers)
        return request.url_root


def test_proxy_headers_are_trusted_only_when_configured(database_url):
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "conduit.example.com"}
    plain = create_app(TestConfig, {"SQLALCHEMY_DATABASE_URI": database_url})
    proxied = create_app(TestConfig, {"SQLALCHEMY_DATABASE_URI": database_url, "PROXY_COUNT": 1})
    assert url_root_seen(plain, headers) == "http://localhost/"
    assert url_root_seen(proxied, headers) == "https://conduit.example.com/"
