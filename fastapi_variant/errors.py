"""The one error boundary: exception handlers turn every failure into a GenericErrorModel body."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException

from webapp.core import security
from webapp.core.errors import APIError, Unprocessable, unique_violation_field

from .routing import UnsafeBodyError
from .settings import settings

log = logging.getLogger(__name__)

# Request envelopes ({"user": {...}}) whose name is dropped from field paths in error keys.
ENVELOPE_KEYS = frozenset({"user", "article", "comment"})
# Where a parameter came from: not part of the field's name.
LOCATIONS = frozenset({"body", "query", "path", "header"})


def error_response(
    status: int, errors: Mapping[str, list[str]], headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """{"errors": {"body": [...], "<field>": [...]}} with the status."""
    return JSONResponse({"errors": dict(errors)}, status_code=status, headers=dict(headers or {}))


def validation_errors(details: Sequence[Any]) -> dict[str, list[str]]:
    """pydantic's errors as per-field lists plus body, keyed like the Flask app's."""
    errors: dict[str, list[str]] = {"body": []}
    for detail in details:
        if detail.get("type") == "json_invalid":
            errors["body"].append("Request body is not valid JSON.")
            continue
        parts = [str(p) for p in detail.get("loc", ()) if p not in LOCATIONS]
        if parts in ([key] for key in ENVELOPE_KEYS) and detail.get("type") == "value_error":
            # A rule about the whole object (a model validator), like marshmallow's _schema.
            parts = []
        if len(parts) > 1 and parts[0] in ENVELOPE_KEYS:
            parts = parts[1:]
        field = ".".join(parts)
        message = detail.get("msg", "Invalid value.").removeprefix("Value error, ")
        errors["body"].append(f"{field}: {message}" if field else message)
        if field:
            errors.setdefault(field, []).append(message)
    if not errors["body"]:
        errors["body"].append("Invalid request.")
    return errors


def handle_validation_error(_request: Request, error: Exception) -> JSONResponse:
    """Invalid bodies, queries and paths: 422 as the contract says."""
    assert isinstance(error, RequestValidationError)
    return error_response(422, validation_errors(error.errors()))


def handle_unsafe_body(_request: Request, error: Exception) -> JSONResponse:
    """A body the API must not process (NUL, lone surrogates, deep nesting, huge integers)."""
    assert isinstance(error, UnsafeBodyError)
    log.info("refused request body: %s %s", ".".join(error.path), error.message)
    detail = {"loc": ("body", *error.path), "msg": error.message}
    return error_response(422, validation_errors([detail]))


# Seconds a client is told to wait when every password hashing slot is busy (as the Flask app).
BUSY_RETRY_AFTER_SECONDS = 1


def handle_hashing_busy(_request: Request, error: Exception) -> JSONResponse:
    """Every password hashing slot is busy: 503 at once, rather than queuing on a thread."""
    log.info("password hashing at capacity")
    return error_response(
        503,
        {"body": ["The server is busy; try again shortly."]},
        {"Retry-After": str(BUSY_RETRY_AFTER_SECONDS)},
    )


def handle_api_error(_request: Request, error: Exception) -> JSONResponse:
    """Domain errors raised by endpoints, dependencies and the shared queries."""
    assert isinstance(error, APIError)
    headers = {"WWW-Authenticate": "Token"} if error.status_code == 401 else {}
    return error_response(error.status_code, error.body(), headers)


def handle_http_exception(_request: Request, error: Exception) -> JSONResponse:
    """Starlette's errors: unknown routes (404), wrong methods (405 with Allow), 413."""
    assert isinstance(error, HTTPException)
    return error_response(error.status_code, {"body": [str(error.detail)]}, error.headers)


def handle_integrity_error(_request: Request, error: Exception) -> JSONResponse:
    """A constraint the pre-checks missed (a race, usually): 422, never 500."""
    assert isinstance(error, sa_exc.IntegrityError)
    field = unique_violation_field(error)
    if field:
        return error_response(422, Unprocessable("has already been taken", field).body())
    log.warning("integrity error: %s", error.orig)
    return error_response(422, {"body": ["The request conflicts with existing data."]})


def handle_data_error(_request: Request, error: Exception) -> JSONResponse:
    """A value the database cannot store (out of range, too long): the client's input."""
    log.info("data error: %s", getattr(error, "orig", error))
    return error_response(422, {"body": ["A value is out of range or too long."]})


def handle_database_unavailable(_request: Request, error: Exception) -> JSONResponse:
    """Database unreachable, pool exhausted or statement timed out: 503, try again later."""
    log.warning("database unavailable: %s", error)
    return error_response(
        503,
        {"body": ["The database is unavailable; try again shortly."]},
        {"Retry-After": str(settings.retry_after_seconds)},
    )


def handle_unexpected_error(_request: Request, error: Exception) -> JSONResponse:
    """Anything else is a bug: log it with its traceback, tell the client nothing more."""
    log.exception("unhandled exception", exc_info=error)
    return error_response(500, {"body": ["Internal server error."]})


def register_error_handlers(app: FastAPI) -> None:
    """Install the handlers; the most specific exception class wins (the session dependency has
    already rolled back by the time one runs)."""
    app.add_exception_handler(RequestValidationError, handle_validation_error)
    app.add_exception_handler(APIError, handle_api_error)
    app.add_exception_handler(security.HashingBusy, handle_hashing_busy)
    app.add_exception_handler(HTTPException, handle_http_exception)
    app.add_exception_handler(UnsafeBodyError, handle_unsafe_body)
    app.add_exception_handler(sa_exc.IntegrityError, handle_integrity_error)
    app.add_exception_handler(sa_exc.DataError, handle_data_error)
    app.add_exception_handler(sa_exc.OperationalError, handle_database_unavailable)
    app.add_exception_handler(sa_exc.InterfaceError, handle_database_unavailable)
    app.add_exception_handler(sa_exc.TimeoutError, handle_database_unavailable)
    app.add_exception_handler(Exception, handle_unexpected_error)
