"""Request ids and logging: every response and every log line of a request carries its id."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, g, has_request_context, request
from gunicorn.glogging import Logger
from pythonjsonlogger.json import JsonFormatter

REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID_ENVIRON = "HTTP_X_REQUEST_ID"  # the header as WSGI passes it
# Ids from clients and proxies are echoed into headers and logs: short, printable, no spaces.
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:+/=-]{1,128}")

TEXT_FORMAT = "%(asctime)s %(levelname)s [%(process)d] %(name)s [%(request_id)s] %(message)s"
JSON_FIELDS = "%(levelname)s %(name)s %(process)d %(request_id)s %(message)s"
JSON_RENAMES = {"levelname": "level", "name": "logger"}


def request_id() -> str:
    """This request's id: the caller's X-Request-ID when well-formed, else a new random one."""
    if "request_id" not in g:
        incoming = request.environ.get(REQUEST_ID_ENVIRON, "")
        # 32 random hex digits, as uuid4().hex gave, at a quarter of its cost.
        g.request_id = incoming if _VALID_REQUEST_ID.fullmatch(incoming) else os.urandom(16).hex()
    current: str = g.request_id
    return current


def _add_request_id(response: Response) -> Response:
    """Return the id on every response, errors included, so clients can quote it."""
    response.headers[REQUEST_ID_HEADER] = request_id()
    return response


def init_app(app: Flask) -> None:
    """Echo the request id on every response (the id itself is made on first use)."""
    app.after_request(_add_request_id)


class RequestIdFilter(logging.Filter):
    """Stamp each record with the current request's id ("-" outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):  # gunicorn's access records bring their own
            record.request_id = request_id() if has_request_context() else "-"
        return True


class AccessLogFields(logging.Filter):
    """Lift method, path, status, duration and request id out of gunicorn's access records."""

    def filter(self, record: logging.LogRecord) -> bool:
        atoms = record.args
        if record.name == "gunicorn.access" and isinstance(atoms, Mapping):
            # gunicorn's atoms: m method, U path (no query string), s status, D microseconds.
            record.method = atoms["m"]
            record.path = atoms["U"]
            record.status = int(str(atoms["s"]))
            record.duration_ms = round(int(str(atoms["D"])) / 1000, 2)
            record.remote_addr = atoms["h"]
            record.request_id = atoms["{x-request-id}o"]
        return True


class GunicornLogger(Logger):
    """gunicorn's logger, writing access lines only when its `accesslog` setting asks for them.

    gunicorn also writes them whenever a logging configuration is given, and gunicorn.conf.py
    always gives one (logconfig_dict), so GUNICORN_ACCESS_LOG=false used to change nothing.
    """

    @property
    def access_log_enabled(self) -> bool:
        """Whether gunicorn builds and writes an access line for each request."""
        return bool(self.cfg.accesslog)


def make_formatter(log_format: str) -> logging.Formatter:
    """Readable text lines, or one JSON object per line for "json"."""
    if log_format == "json":
        # "time": ISO 8601 in UTC with milliseconds, as log shippers expect.
        return JsonFormatter(JSON_FIELDS, rename_fields=JSON_RENAMES, timestamp="time")
    if log_format != "text":
        raise ValueError(f"LOG_FORMAT must be 'text' or 'json', not {log_format!r}")
    return logging.Formatter(TEXT_FORMAT)


def logging_config(log_format: str, level: str) -> dict[str, Any]:
    """Logging for the server process: one stderr handler, request ids on every line."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "access_fields": {"()": AccessLogFields},
            "request_id": {"()": RequestIdFilter},
        },
        "formatters": {"default": {"()": make_formatter, "log_format": log_format}},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "default",
                "filters": ["access_fields", "request_id"],
            }
        },
        "root": {"level": level, "handlers": ["default"]},
        "loggers": {
            # gunicorn's own loggers go through the same handler (and format) as the app's.
            "gunicorn.error": {"level": level, "handlers": [], "propagate": True},
            "gunicorn.access": {"level": "INFO", "handlers": [], "propagate": True},
        },
    }
