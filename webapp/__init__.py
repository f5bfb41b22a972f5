"""Conduit API application factory."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from typing import Any

from flask import Flask

from config import Config, engine_options

from . import api, auth, cli, health, limits, observability, web
from .extensions import init_db

# Keys that must never run in production.
INSECURE_KEYS = frozenset({"", "dev", "change-me", "changeme", "secret", "development"})


def create_app(config: type = Config, overrides: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: config, extensions, blueprints, error handlers, CLI. No database access."""
    app = Flask(__name__, instance_relative_config=True, static_folder=None)
    app.json.sort_keys = False  # keep the schemas' field order on the wire
    app.config.from_object(config)
    if overrides:
        app.config.from_mapping(overrides)
    app.config.setdefault(
        "SQLALCHEMY_ENGINE_OPTIONS", engine_options(app.config["SQLALCHEMY_DATABASE_URI"])
    )
    os.makedirs(app.instance_path, exist_ok=True)
    app.config["SECRET_KEY"] = _secret_key(app)

    observability.init_app(app)
    web.init_app(app)
    init_db(app)
    auth.init_app(app)
    limits.init_app(app)
    api.init_app(app)
    health.init_app(app)
    cli.init_app(app)
    return app


def _secret_key(app: Flask) -> str:
    """The signing key: required in production, else generated once into the instance folder."""
    key = app.config.get("SECRET_KEY") or ""
    if app.config["APP_ENV"] == "production":
        if key.strip().lower() in INSECURE_KEYS or len(key) < 32:
            raise RuntimeError(
                "SECRET_KEY must be set to a random value of at least 32 characters in production."
            )
        return key
    if key:
        return key
    path = app.config.get("SECRET_KEY_FILE") or os.path.join(app.instance_path, "secret_key")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass  # generated earlier, or by a sibling process just now
    else:
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
    with open(path) as fh:
        return fh.read().strip()
