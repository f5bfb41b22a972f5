"""The HTTP API: flask-smorest Api and Blueprint wired to our parser and error boundary."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from http import HTTPStatus
from typing import Any, NoReturn, TypeVar

import flask
import flask_smorest
from webargs import core
from webargs.flaskparser import FlaskParser, abort, is_json_request

from ..errors import ErrorSchema, register_error_handlers


class Parser(FlaskParser):
    """webargs parser: invalid input, malformed JSON included, is 422 as the contract says.

    A body must also be safe to store and process: no string (key or value) with a NUL (PostgreSQL
    text cannot hold one) or a lone UTF-16 surrogate (not encodable as UTF-8), no nesting deeper
    than any request needs, no integer longer than Python converts.
    """

    DEFAULT_VALIDATION_STATUS = 422
    # Our bodies nest three levels ({"article": {"tagList": [...]}}); the bound keeps walks cheap.
    MAX_JSON_DEPTH = 16
    # Far above any id or page number; int() itself refuses 4,300 digits and more.
    MAX_INT_DIGITS = 100
    UNSAFE_CHARACTERS = re.compile("[\x00\ud800-\udfff]")
    UNSAFE_MESSAGE = "must not contain NUL or unpaired surrogate characters."

    def _handle_invalid_json_error(
        self,
        error: json.JSONDecodeError | UnicodeDecodeError,
        req: flask.Request,
        *args: Any,
        **kwargs: Any,
    ) -> NoReturn:
        abort(422, exc=error, messages={"json": ["Request body is not valid JSON."]})

    def _raw_load_json(self, req: flask.Request) -> Any:
        """The JSON body, or 422 when it is not one the API can safely read."""
        if not is_json_request(req):
            return core.missing
        try:
            data = json.loads(req.get_data(cache=True).decode(), parse_int=self._parse_int)
        except RecursionError:
            self._refuse((), "Request body is nested too deeply.")
        except OverflowError:
            self._refuse((), f"Request body has an integer over {self.MAX_INT_DIGITS} digits.")
        self._check_json(data)
        return data

    @classmethod
    def _parse_int(cls, text: str) -> int:
        """A JSON integer, refused before int() spends time on (or rejects) a huge one."""
        if len(text.lstrip("-")) > cls.MAX_INT_DIGITS:
            raise OverflowError(text[:20])
        return int(text)

    @classmethod
    def _check_json(cls, data: Any) -> None:
        """Refuse unsafe strings and deep nesting, naming where; a loop, so depth costs no stack."""
        pending: list[tuple[Any, tuple[str, ...]]] = [(data, ())]
        while pending:
            value, path = pending.pop()
            if len(path) > cls.MAX_JSON_DEPTH:
                cls._refuse((), "Request body is nested too deeply.")
            if isinstance(value, str):
                if cls.UNSAFE_CHARACTERS.search(value):
                    cls._refuse(path, cls.UNSAFE_MESSAGE)
            elif isinstance(value, dict):
                for key, item in value.items():
                    if cls.UNSAFE_CHARACTERS.search(key):
                        cls._refuse(path, f"has a key that {cls.UNSAFE_MESSAGE}")
                    pending.append((item, (*path, key)))
            elif isinstance(value, list):
                pending.extend((item, (*path, str(i))) for i, item in enumerate(value))

    @staticmethod
    def _refuse(path: tuple[str, ...], message: str) -> NoReturn:
        """422 in the error shape, under the field path when there is one; logged in one line."""
        messages: Any = [message]
        for key in reversed(path):
            messages = {key: messages}
        flask.current_app.logger.info("refused request body: %s %s", ".".join(path), message)
        abort(422, messages={"json": messages})


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
