"""HTTP around the API: trusted proxy headers, CORS for browser front ends, nosniff."""

from __future__ import annotations

from flask import Flask, Response
from flask_cors import CORS
from werkzeug.middleware.proxy_fix import ProxyFix

from .observability import REQUEST_ID_HEADER

cors = CORS()


def _nosniff(response: Response) -> Response:
    """Browsers must not guess a content type other than the one we declare."""
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def init_app(app: Flask) -> None:
    """CORS on /api for the configured origins (CORS_ORIGINS); ProxyFix only when configured."""
    cors.init_app(
        app,
        resources=r"/api/*",
        allow_headers=["Authorization", "Content-Type", REQUEST_ID_HEADER],
        expose_headers=[REQUEST_ID_HEADER],
        max_age=600,
    )
    app.after_request(_nosniff)
    hops = app.config["PROXY_COUNT"]
    if hops:
        # Trust X-Forwarded-For/-Proto/-Host/-Port only from the configured number of proxies.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)
