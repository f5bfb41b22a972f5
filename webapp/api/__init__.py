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
    """A resource's routes; arguments parsed by our Parser, errors and auth documented.

    `tag` names the resource in the OpenAPI document as the contract does ("Articles", "Profile",
    ...); a route may pass `tags=[...]` to be listed under another contract tag ("Favorites").
    """

    ARGUMENTS_PARSER = Parser()

    def __init__(self, *args: Any, tag: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tag = tag or self.name
        self.operation_tags: list[str] = []

    def route(
        self,
        rule: str,
        *,
        parameters: list[Any] | None = None,
        tags: list[str] | None = None,
        **options: Any,
    ) -> Callable[[F], F]:
        """flask-smorest's route, tagging the operation with the blueprint's contract tag."""
        tags = tags or [self.tag]
        self.operation_tags.extend(tag for tag in tags if tag not in self.operation_tags)
        return super().route(rule, parameters=parameters, tags=tags, **options)

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

    def register_blueprint(
        self, blp: Blueprint, *, parameters: list[Any] | None = None, **options: Any
    ) -> None:
        """Register a resource and document it under the contract's tag names.

        The same steps as flask_smorest.Api.register_blueprint, which would name the document's tag
        after the Flask blueprint ("users") instead of the contract ("User and Authentication").
        """
        name = options.get("name", blp.name)
        self._app.extensions["flask-smorest"]["blp_name_to_api"][name] = self
        self._app.register_blueprint(blp, **options)
        blp.register_views_in_doc(self, self._app, self.spec, name=name, parameters=parameters)
        declared = {tag["name"] for tag in self.spec.to_dict().get("tags", [])}
        for tag in blp.operation_tags:
            if tag not in declared:
                own = tag == blp.tag and blp.description
                self.spec.tag(
                    {"name": tag, "description": blp.description} if own else {"name": tag}
                )


api = ConduitApi()


def init_app(app: flask.Flask) -> None:
    """Bind the Api and register every resource blueprint under /api."""
    from . import articles, comments, docs, profiles, tags, users

    api.init_app(app)
    app.register_blueprint(docs.blp)
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
