"""The route class every router uses: request bodies parsed by webapp.core.safe_json."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from webapp.core import safe_json


class UnsafeBodyError(HTTPException):
    """422 for a body safe_json refuses; an HTTPException, so FastAPI's body reading re-raises
    it as it is (any other error there becomes a bare 400)."""

    def __init__(self, error: safe_json.UnsafeBody) -> None:
        super().__init__(422, error.message)
        self.path = error.path
        self.message = error.message


class SafeJSONRequest(Request):
    """A request whose JSON body is read with the same guards as the Flask app's parser."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                text = body.decode()
            except UnicodeDecodeError as exc:
                raise json.JSONDecodeError("not UTF-8", "", 0) from exc
            try:
                self._json = safe_json.loads(text)
            except safe_json.UnsafeBody as error:
                raise UnsafeBodyError(error) from error
        return self._json


class SafeRoute(APIRoute):
    """FastAPI's route with SafeJSONRequest (FastAPI's documented way to customise requests)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def safe_handler(request: Request) -> Response:
            return await handler(SafeJSONRequest(request.scope, request.receive))

        return safe_handler
