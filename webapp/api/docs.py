"""Swagger UI's assets for the docs page, served from the flask-swagger-ui package: no CDN."""

from __future__ import annotations

from importlib.resources import files

import flask

# The Swagger UI 5 distribution (scripts, style sheet, icons) that flask-swagger-ui ships.
ASSETS = str(files("flask_swagger_ui") / "dist")

blp = flask.Blueprint("docs-assets", __name__, url_prefix="/api/docs/assets")


@blp.get("/<path:filename>")
def asset(filename: str) -> flask.Response:
    """One Swagger UI file; unknown names are 404 like any other route."""
    return flask.send_from_directory(ASSETS, filename)
