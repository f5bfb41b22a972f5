"""The FastAPI app: `uvicorn fastapi_variant.main:app` (see `make run-fastapi`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .api import articles, comments, health, profiles, tags, users
from .database import engine
from .errors import error_response, register_error_handlers
from .settings import settings

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
    # Flask answers /api/articles/ with 404, not a redirect; so does this app.
    redirect_slashes=False,
    lifespan=lifespan,
)
register_error_handlers(app)
for module in (users, profiles, articles, comments, tags):
    app.include_router(module.router, prefix="/api")
app.include_router(health.router)
app.add_middleware(BodyLimit, limit=settings.max_content_length)
