"""The one error boundary: every exception becomes a GenericErrorModel JSON response here."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import Any

from flask import Flask, Response, current_app, jsonify, request
from marshmallow import Schema, fields
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException

from webapp.core.errors import (
    APIError,
    Forbidden,
    NotFound,
    Unauthorized,
    Unprocessable,
    unique_violation_field,
)

from .extensions import db

log = logging.getLogger(__name__)

# The domain errors are shared with the FastAPI variant; views import them from here or the core.
__all__ = [
    "APIError",
    "ErrorSchema",
    "Forbidden",
    "NotFound",
    "Unauthorized",
    "Unprocessable",
    "register_error_handlers",
]

# Request envelopes ({"user": {...}}) whose name is dropped from field paths in error keys.
ENVELOPE_KEYS = frozenset({"user", "article", "comment"})


class ErrorSchema(Schema):
    """GenericErrorModel: {"errors": {"body": [...], "<field>": [...]}}."""

    errors = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        required=True,
        # Documents what every error carries: a body list beside any per-field lists.
        metadata={
            "properties": {"body": {"type": "array", "items": {"type": "string"}}},
            "required": ["body"],
        },
    )


def refuse_nul_in_url() -> None:
    """Before any view: a NUL in the path or query is 422 on every database alike, as a NUL in
    a body is (webapp.api.Parser).

    PostgreSQL text cannot hold NUL and SQLite can, so a lookup by such a name would otherwise
    answer differently per database. Lone surrogates cannot arrive here: Werkzeug decodes URLs
    with replacement characters.
    """
    environ = request.environ
    query = environ.get("QUERY_STRING", "")
    # A NUL can only come from the path the server decoded or from the raw query string (as a
    # byte or as %00): without either, nothing is parsed here (about 1% of a read's CPU).
    if "\x00" not in environ.get("PATH_INFO", "") and "%00" not in query and "\x00" not in query:
        return
    if "\x00" in request.path or any(
        "\x00" in key or "\x00" in value for key, value in request.args.items(multi=True)
    ):
        log.info("refused request: NUL character in the URL")
        raise Unprocessable("The URL must not contain NUL characters.")


def error_response(
    status: int, errors: Mapping[str, list[str]], headers: Mapping[str, str] | None = None
) -> tuple[Response, int, dict[str, str]]:
    """Serialize an errors object through the error schema."""
    response = jsonify(ErrorSchema().dump({"errors": errors}))
    return response, status, dict(headers or {})


def _flatten(messages: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, str]]:
    """(field path, message) pairs from marshmallow's nested error messages."""
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            yield from _flatten(value, (*path, str(key)))
    elif isinstance(messages, list | tuple):
        for item in messages:
            if isinstance(item, str):
                yield ".".join(path), item
            else:
                yield from _flatten(item, path)
    else:
        yield ".".join(path), str(messages)


def validation_errors(messages: Mapping[str, Any]) -> dict[str, list[str]]:
    """Turn webargs' {location: {envelope: {field: [...]}}} into per-field lists plus body."""
    errors: dict[str, list[str]] = {"body": []}
    for location_messages in messages.values():
        for field_path, message in _flatten(location_messages):
            parts = field_path.split(".") if field_path else []
            if len(parts) > 1 and parts[0] in ENVELOPE_KEYS:
                parts = parts[1:]
            field = ".".join(p for p in parts if p != "_schema")
            errors["body"].append(f"{field}: {message}" if field else message)
            if field:
                errors.setdefault(field, []).append(message)
    if not errors["body"]:
        errors["body"].append("Invalid request.")
    return errors


def _rollback() -> None:
    """Discard the failed unit of work so nothing half-done is committed."""
    try:
        db.session.rollback()
    except sa_exc.SQLAlchemyError:  # the connection may already be gone; teardown discards it
        log.warning("rollback failed", exc_info=True)


def handle_api_error(error: APIError) -> tuple[Response, int, dict[str, str]]:
    """Domain errors raised by views and helpers."""
    _rollback()
    headers = {"WWW-Authenticate": "Token"} if error.status_code == 401 else {}
    return error_response(error.status_code, error.body(), headers)


def handle_http_exception(error: HTTPException) -> tuple[Response, int, dict[str, str]]:
    """Werkzeug errors (404, 405, 413, ...) and webargs' validation aborts."""
    _rollback()
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    headers = dict(data.get("headers") or {})
    if "messages" in data:
        return error_response(status, validation_errors(data["messages"]), headers)
    valid_methods = getattr(error, "valid_methods", None)  # set by MethodNotAllowed only
    if status == 405 and valid_methods:
        headers["Allow"] = ", ".join(sorted(valid_methods))
    return error_response(status, {"body": [error.description or error.name]}, headers)


def handle_integrity_error(error: sa_exc.IntegrityError) -> tuple[Response, int, dict[str, str]]:
    """A constraint the pre-checks missed (a race, usually): 422, never 500."""
    _rollback()
    field = unique_violation_field(error)
    if field:
        return error_response(422, Unprocessable("has already been taken", field).body())
    log.warning("integrity error: %s", error.orig)
    return error_response(422, {"body": ["The request conflicts with existing data."]})


def handle_data_error(error: sa_exc.DataError) -> tuple[Response, int, dict[str, str]]:
    """A value the database cannot store (out of range, too long): the client's input."""
    _rollback()
    log.info("data error: %s", error.orig)
    return error_response(422, {"body": ["A value is out of range or too long."]})


def handle_database_unavailable(error: Exception) -> tuple[Response, int, dict[str, str]]:
    """Database unreachable, pool exhausted or statement timed out: 503, try again later."""
    _rollback()
    log.warning("database unavailable: %s", error)
    retry_after = str(current_app.config["RETRY_AFTER_SECONDS"])
    return error_response(
        503,
        {"body": ["The database is unavailable; try again shortly."]},
        {"Retry-After": retry_after},
    )


def handle_unexpected_error(error: Exception) -> tuple[Response, int, dict[str, str]]:
    """Anything else is a bug: log it with its traceback, tell the client nothing more."""
    _rollback()
    log.exception("unhandled exception", exc_info=error)
    return error_response(500, {"body": ["Internal server error."]})


def register_error_handlers(app: Flask) -> None:
    """Install the handlers; the most specific exception class wins in Flask."""
    app.register_error_handler(APIError, handle_api_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(sa_exc.IntegrityError, handle_integrity_error)
    app.register_error_handler(sa_exc.DataError, handle_data_error)
    app.register_error_handler(sa_exc.OperationalError, handle_database_unavailable)
    app.register_error_handler(sa_exc.InterfaceError, handle_database_unavailable)
    app.register_error_handler(sa_exc.TimeoutError, handle_database_unavailable)
    app.register_error_handler(Exception, handle_unexpected_error)
