"""The HTTP API: flask-smorest Api and Blueprint wired to our parser and error boundary."""

from __future__ import annotations

import json
from typing import Any, NoReturn

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


class Blueprint(flask_smorest.Blueprint):
    """A resource's routes; arguments parsed by our Parser."""

    ARGUMENTS_PARSER = Parser()


class ConduitApi(flask_smorest.Api):
    """flask-smorest Api whose errors go through the one error boundary (webapp.errors)."""

    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self) -> None:
        register_error_handlers(self._app)


api = ConduitApi()


def init_app(app: flask.Flask) -> None:
    """Bind the Api and register every resource blueprint under /api."""
    from . import users

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
    for module in (users,):
        api.register_blueprint(module.blp)
