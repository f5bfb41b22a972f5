"""Swagger UI's assets for the docs page, served from the flask-swagger-ui package: no CDN; and the
page's own protection: a Content-Security-Policy that lets only those assets run, and no framing."""

from __future__ import annotations

import base64
import hashlib
import re
from importlib.resources import files

import flask

# The Swagger UI 5 distribution (scripts, style sheet, icons) that flask-swagger-ui ships.
ASSETS = str(files("flask_swagger_ui") / "dist")
# flask-smorest's Swagger UI page (OPENAPI_SWAGGER_UI_PATH).
DOCS_PAGE = "api-docs.openapi_swagger_ui"
INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)

blp = flask.Blueprint("docs-assets", __name__, url_prefix="/api/docs/assets")


@blp.get("/<path:filename>")
def asset(filename: str) -> flask.Response:
    """One Swagger UI file; unknown names are 404 like any other route."""
    return flask.send_from_directory(ASSETS, filename)


def content_security_policy(page: str) -> str:
    """Scripts, styles and calls from this origin only, plus the page's own inline start-up
    script by its hash (no 'unsafe-inline'); icons may be data: URLs; nothing may frame it."""
    digests = (hashlib.sha256(script.encode()).digest() for script in INLINE_SCRIPT.findall(page))
    hashes = " ".join(f"'sha256-{base64.b64encode(digest).decode()}'" for digest in digests)
    return "; ".join(
        (
            "default-src 'none'",
            f"script-src 'self' {hashes}".strip(),
            "style-src 'self'",
            "img-src 'self' data:",
            "font-src 'self'",
            "connect-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        )
    )


@blp.after_app_request
def protect_docs_page(response: flask.Response) -> flask.Response:
    """The docs page runs scripts with the user's token in reach: lock down what it may load."""
    if flask.request.endpoint == DOCS_PAGE and response.status_code == 200:
        page = response.get_data(as_text=True)
        response.headers["Content-Security-Policy"] = content_security_policy(page)
        response.headers["X-Frame-Options"] = "DENY"
    return response
