"""The Flask app's factory: create_app() binds config, extensions, blueprints, error handlers
and CLI over the shared core (webapp.core)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from typing import Any

from flask import Flask, Request
from flask.sessions import SessionInterface

from config import Config, load

from . import auth, cli, errors, health, limits, observability, web
from .api import api as rest_api
from .api import articles, comments, docs, favorites, profiles, tags, users
from .api import init_app as init_api
from .extensions import init_db
from .json_provider import OrjsonProvider

# Keys that must never run in production.
INSECURE_KEYS = frozenset({"", "dev", "change-me", "changeme", "secret", "development"})


class NoCookieSessions(SessionInterface):
    """The API keeps no state in cookies (clients send a token), so no request opens a signed
    cookie session; flask.session is Flask's read-only null session."""

    def open_session(self, app: Flask, request: Request) -> None:
        return None

    def save_session(self, app: Flask, session: Any, response: Any) -> None:
        return None


class Conduit(Flask):
    """Flask for a token-authenticated API of synchronous views."""

    # Flask's default would build an itsdangerous serializer on every request to read a cookie
    # this API never sets.
    session_interface = NoCookieSessions()

    def ensure_sync(self, func: Any) -> Any:
        """Every view, hook and handler here is a plain function (a test walks them all), so
        Flask's per-call coroutine check, run for each of them on every request, is skipped."""
        return func


def create_app(config: type[Config] = Config, overrides: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: config, extensions, blueprints, error handlers, CLI. No database access.

    Settings come from config.load(): the class's defaults, the environment, then overrides
    (any key, pool sizes included); the engine options are derived from the result.
    """
    # Named after the package (not this module): its instance folder and logger are the package's.
    app = Conduit("webapp", instance_relative_config=True, static_folder=None)
    app.json = OrjsonProvider(app)  # keeps the schemas' field order
    app.config.from_mapping(load(config, overrides))
    os.makedirs(app.instance_path, exist_ok=True)
    app.config["SECRET_KEY"] = _secret_key(app)

    observability.init_app(app)
    web.init_app(app)
    init_db(app)
    auth.init_app(app)
    limits.init_app(app)
    init_api(app)
    # After init_api: the one error boundary replaces flask-smorest's default HTTPException handler.
    errors.register_error_handlers(app)
    app.before_request(errors.refuse_nul_in_url)
    for resource in (users, profiles, articles, favorites, comments, tags, health):
        rest_api.register_blueprint(resource.blp)
    app.register_blueprint(docs.blp)
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
