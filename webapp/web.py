"""HTTP around the API: trusted proxy headers, CORS for browser front ends, nosniff."""

from __future__ import annotations

import re

from flask import Flask, Response, request
from flask_cors import CORS
from werkzeug.middleware.proxy_fix import ProxyFix

from .observability import REQUEST_ID_HEADER

cors = CORS()

# Outside production, with no CORS_ORIGINS, any local front end may call the API (any port).
LOCAL_ORIGINS = re.compile(r"^https?://(localhost|127\.0\.0\.1|\[::1\])(:\d{1,5})?$")


def _nosniff(response: Response) -> Response:
    """Browsers must not guess a content type other than the one we declare."""
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _vary_on_origin(response: Response) -> Response:
    """/api answers differ by Origin (allowed or not), so shared caches must key on it."""
    if request.path.startswith("/api") and "origin" not in _vary(response):
        response.headers.add("Vary", "Origin")
    return response


def _vary(response: Response) -> set[str]:
    """The header names a response varies on, lower-cased, across every Vary line."""
    return {
        name.strip().lower()
        for line in response.headers.getlist("Vary")
        for name in line.split(",")
    }


def cors_origins(app: Flask) -> list[str | re.Pattern[str]]:
    """CORS_ORIGINS when set; else local origins outside production, and none in production."""
    if app.config["CORS_ORIGINS"] or app.config["APP_ENV"] == "production":
        return list(app.config["CORS_ORIGINS"])
    return [LOCAL_ORIGINS]


def init_app(app: Flask) -> None:
    """CORS on /api for the allowed origins (cors_origins); ProxyFix only when configured."""
    origins = cors_origins(app)
    # With no allowed origin (production without CORS_ORIGINS), flask-cors would examine every
    # response and add nothing: it is left out, and no browser page of another origin may call.
    if origins:
        # Registered before flask-cors, so it runs after it and sees the Vary it may have set.
        app.after_request(_vary_on_origin)
        cors.init_app(
            app,
            resources=r"/api/*",
            origins=origins,
            allow_headers=["Authorization", "Content-Type", REQUEST_ID_HEADER],
            expose_headers=[REQUEST_ID_HEADER],
            max_age=600,
        )
    app.after_request(_nosniff)
    hops = app.config["PROXY_COUNT"]
    if hops:
        # Trust X-Forwarded-For/-Proto/-Host/-Port only from the configured number of proxies.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]  # Flask's documented way
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops
        )
