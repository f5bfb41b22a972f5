"""The HTTP API: flask-smorest Api and Blueprint wired to our parser and error boundary."""

from __future__ import annotations

import json
from collections.abc import Callable
from http import HTTPStatus
from typing import Any, NoReturn, TypeVar

import flask
import flask_smorest
from webargs.flaskparser import FlaskParser, abort

from ..errors import ErrorSchema, register_error_handlers


class Parser(FlaskParser):
    """webargs parser: invalid input, malformed JSON included, is 422 as the contract says."""

    DEFAULT_VALIDATION_STATUS = 422

    def _handle_invalid_json_error(
        self,
        error: json.JSONDecodeError | UnicodeDecodeError,
        req: flask.Request,
        *args: Any,
        **kwargs: Any,
    ) -> NoReturn:
        abort(422, exc=error, messages={"json": ["Request body is not valid JSON."]})


F = TypeVar("F", bound=Callable[..., Any])


class Blueprint(flask_smorest.Blueprint):
    """A resource's routes; arguments parsed by our Parser, errors and auth documented."""

    ARGUMENTS_PARSER = Parser()

    def errors(self, *statuses: int) -> Callable[[F], F]:
        """Document the error statuses a view can answer with (GenericErrorModel bodies)."""

        def decorator(view: F) -> F:
            for status in statuses:
                view = self.alt_response(status, response=HTTPStatus(status).name)(view)
            return view

        return decorator

    def token_auth(self, *, optional: bool = False) -> Callable[[F], F]:
        """Document the Token security scheme; optional auth also allows anonymous calls."""
        security: list[dict[str, list[str]]] = [{"Token": []}]
        if optional:
            security.insert(0, {})
        return self.doc(security=security)


class ConduitApi(flask_smorest.Api):
    """flask-smorest Api whose errors go through the one error boundary (webapp.errors)."""

    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self) -> None:
        register_error_handlers(self._app)


api = ConduitApi()


def init_app(app: flask.Flask) -> None:
    """Bind the Api and register every resource blueprint under /api."""
    from . import articles, comments, profiles, tags, users

    api.init_app(app)
    api.spec.components.security_scheme(
        "Token",
        {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "'Token <jwt>' as returned by login or registration.",
        },
    )
    for module in (users, profiles, articles, comments, tags):
        api.register_blueprint(module.blp)
