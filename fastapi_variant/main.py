"""The FastAPI app: `uvicorn fastapi_variant.main:app` (see `make run-fastapi`)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import unquote_plus

import anyio.to_thread
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .api import articles, comments, health, profiles, tags, users
from .database import engine
from .errors import error_response, register_error_handlers
from .settings import settings

log = logging.getLogger(__name__)
TOO_LARGE = "The request body is too large."


class BodyLimit:
    """413 for request bodies over MAX_CONTENT_LENGTH, declared or streamed (Flask's twin)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            # Outside the app's handlers (this wraps the app), so the response is made here.
            await error_response(413, {"body": [TOO_LARGE]})(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise HTTPException(413, TOO_LARGE)
            return message

        await self.app(scope, limited, send)


class RefuseNulInURL:
    """A NUL in the path or query is 422 on every database alike, as in the Flask app (PostgreSQL
    text cannot hold one, SQLite can, so a lookup would answer differently per database)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (
            "\x00" in scope["path"]
            or "\x00" in unquote_plus(scope["query_string"].decode("latin-1"))
        ):
            log.info("refused request: NUL character in the URL")
            body = {"body": ["The URL must not contain NUL characters."]}
            await error_response(422, body)(scope, receive, send)
            return
        await self.app(scope, receive, send)


class NoStore:
    """Every /api/user and /api/users response may carry a token: no browser or proxy may keep
    a copy (the Flask app's users blueprint does the same)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/user"):
            await self.app(scope, receive, send)
            return

        async def send_no_store(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message["headers"] if k.lower() != b"cache-control"]
                message = {**message, "headers": [*headers, (b"cache-control", b"no-store")]}
            await send(message)

        await self.app(scope, receive, send_no_store)


class TrailingSlash:
    """/api/articles/ is /api/articles: the path loses one trailing slash before routing, with no
    redirect (a redirect would drop a POST body or fail a CORS preflight)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and path.startswith("/api/") and path.endswith("/"):
            scope = {**scope, "path": path[:-1], "raw_path": scope["raw_path"].rstrip(b"/")}
        await self.app(scope, receive, send)


# Outside production, with no CORS_ORIGINS, any local front end may call the API (any port).
LOCAL_ORIGINS = r"https?://(localhost|127\.0\.0\.1|\[::1\])(:\d{1,5})?"


def add_cors(app: FastAPI) -> None:
    """CORS on the API for CORS_ORIGINS, else for local origins outside production."""
    origins = settings.allowed_origins()
    local = None if origins or settings.app_env == "production" else LOCAL_ORIGINS
    if origins or local:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_origin_regex=local,
            allow_methods=["GET", "POST", "PUT", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=["X-Request-ID"],
            max_age=600,
        )


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    """Size the thread pool that runs the sync endpoints; dispose of the pool on shutdown."""
    anyio.to_thread.current_default_thread_limiter().total_tokens = settings.threads
    yield
    engine.dispose()


app = FastAPI(
    title="Conduit API (FastAPI variant)",
    version="1.1.0",
    openapi_url="/api/openapi.json",
    docs_url="/api/docs",
    redoc_url=None,
    # No 307 to the other spelling: TrailingSlash answers both without a redirect.
    redirect_slashes=False,
    lifespan=lifespan,
)
register_error_handlers(app)
for module in (users, profiles, articles, comments, tags):
    app.include_router(module.router, prefix="/api")
app.include_router(health.router)
app.add_middleware(BodyLimit, limit=settings.max_content_length)
add_cors(app)
app.add_middleware(NoStore)
app.add_middleware(RefuseNulInURL)
# Outermost: the slash goes before CORS and routing see the path.
app.add_middleware(TrailingSlash)
