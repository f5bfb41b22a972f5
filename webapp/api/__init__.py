"""The HTTP API: flask-smorest Api and Blueprint with our parser and the Token auth declaration."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from http import HTTPStatus
from typing import Any, Literal, NoReturn, TypeVar, cast

import flask
import flask_smorest
import marshmallow as ma
from webargs import core
from webargs.flaskparser import FlaskParser, abort, is_json_request
from werkzeug.routing import BaseConverter

from webapp.core import safe_json

from .. import auth
from ..errors import ErrorSchema


class Parser(FlaskParser):
    """webargs parser: invalid input, malformed JSON included, is 422 as the contract says.

    A body must also be safe to store and process (webapp.core.safe_json, shared with the
    FastAPI variant): no string with a NUL or a lone UTF-16 surrogate, no deep nesting, no huge
    integer.
    """

    DEFAULT_VALIDATION_STATUS = 422

    def _handle_invalid_json_error(
        self,
        error: json.JSONDecodeError | UnicodeDecodeError,
        req: flask.Request,
        *args: Any,
        **kwargs: Any,
    ) -> NoReturn:
        abort(422, exc=error, messages={"json": ["Request body is not valid JSON."]})

    def load_querystring(self, req: flask.Request, schema: ma.Schema) -> Any:
        """The query string as webargs' proxy would hand it to the schema; when no field takes
        several values, as a plain dict of each parameter's first value, which is what the proxy
        gives for such fields, without werkzeug raising and catching a KeyError (an HTTP
        exception object) for every parameter the request leaves out."""
        proxy = self._makeproxy(req.args, schema)
        return proxy if proxy.multiple_keys else req.args.to_dict()

    def _raw_load_json(self, req: flask.Request) -> Any:
        """The JSON body, or 422 when it is not one the API can safely read."""
        if not is_json_request(req):
            return core.missing
        try:
            return safe_json.loads(req.get_data(cache=True).decode())
        except safe_json.UnsafeBody as error:
            self._refuse(error.path, error.message)

    @staticmethod
    def _refuse(path: tuple[str, ...], message: str) -> NoReturn:
        """422 in the error shape, under the field path when there is one; logged in one line."""
        messages: Any = [message]
        for key in reversed(path):
            messages = {key: messages}
        flask.current_app.logger.info("refused request body: %s %s", ".".join(path), message)
        abort(422, messages={"json": messages})


F = TypeVar("F", bound=Callable[..., Any])
Caller = Literal["user", "user_id", "reader_id", "claims", "reader_claims"]

# The caller a Token-guarded view receives, resolved by webapp.auth (the one place tokens are read).
CALLERS: dict[Caller, Callable[[], Any]] = {
    "user": auth.require_user,
    "user_id": auth.require_user_id,
    "reader_id": auth.reader_id,
    "claims": auth.required_claims,
    "reader_claims": auth.reader_claims,
}


class Blueprint(flask_smorest.Blueprint):
    """A resource's routes: arguments parsed by our Parser, errors and auth declared on the view.

    The blueprint's name is the OpenAPI tag its operations are listed under, so resources carry the
    contract's names ("Articles", "User and Authentication", ...); endpoints read "Articles.feed".
    """

    ARGUMENTS_PARSER = Parser()

    def arguments(self, schema: Any, *args: Any, **kwargs: Any) -> Callable[[F], F]:
        """flask-smorest's arguments, given a schema instance made once here: handed a class,
        webargs would build (and deep-copy the fields of) a new instance on every request."""
        if isinstance(schema, type):
            schema = schema()
        decorator: Callable[[F], F] = super().arguments(schema, *args, **kwargs)
        return decorator

    def errors(self, *statuses: int) -> Callable[[F], F]:
        """Document the error statuses a view can answer with (GenericErrorModel bodies)."""

        def decorator(view: F) -> F:
            for status in statuses:
                view = self.alt_response(status, response=HTTPStatus(status).name)(view)
            return view

        return decorator

    def token_auth(self, caller: Caller = "user") -> Callable[[F], F]:
        """Document and enforce the Token scheme; the view receives the caller first.

        caller "user" (the account) or "user_id" (its id, no account load): a token is required,
        anonymous calls are 401. caller "reader_id": the token is optional, the view gets the
        reader's id or None. A bad token is 401 either way. "claims" and "reader_claims" are
        "user_id" and "reader_id" without the account lookup: the view gets the token's claims
        and its statement must check them (webapp.core.queries.READER_ROW). Place it right under
        the route decorator so it runs before the body and query are parsed.
        """
        resolve = CALLERS[caller]
        security: list[dict[str, list[str]]] = [{"Token": []}]
        if caller in ("reader_id", "reader_claims"):
            security.insert(0, {})

        def decorator(view: F) -> F:
            @functools.wraps(view)
            def guarded(*args: Any, **kwargs: Any) -> Any:
                return view(resolve(), *args, **kwargs)

            documented = self.alt_response(401, response=HTTPStatus(401).name)(guarded)
            return cast(F, self.doc(security=security)(documented))

        return decorator


class ConduitApi(flask_smorest.Api):
    """flask-smorest Api documenting every error with the contract's error body."""

    ERROR_SCHEMA = ErrorSchema


class SlugConverter(BaseConverter):
    """An article slug as webapp.core.writes.new_slug makes it: slugified title words and a
    12-hex-digit suffix, or the suffix alone. Never a single word, so /api/articles/feed is never
    a slug."""

    regex = r"(?:[a-z0-9]+(?:-[a-z0-9]+)+|[0-9a-f]{12})"


def slug_parameter_schema(converter: SlugConverter) -> dict[str, str]:
    """The OpenAPI schema of a slug path parameter: the converter's pattern."""
    return {"type": "string", "pattern": f"^{converter.regex}$"}


api = ConduitApi()
# Once, not per app: every app's document is built with the converters registered here.
api.register_converter(SlugConverter, slug_parameter_schema)
TOKEN_SCHEME = {
    "type": "apiKey",
    "in": "header",
    "name": "Authorization",
    "description": "'Token <jwt>' as returned by login or registration ('Bearer <jwt>' works too).",
}


def init_app(app: flask.Flask) -> None:
    """Bind the Api to the app: URL rules, the slug converter, the Token security scheme."""
    # /api/articles/ is /api/articles: no redirect, which would drop a POST body or a preflight.
    app.url_map.strict_slashes = False
    app.url_map.converters["slug"] = SlugConverter
    api.init_app(app)
    api.spec.components.security_scheme("Token", TOKEN_SCHEME)
