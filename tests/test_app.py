"""The app class: synchronous views and hooks only, and no cookie sessions."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, session

from tests.conftest import UserFactory


def _callables(app: Flask) -> Iterator[tuple[str, Any]]:
    """Every function Flask may call for a request: views, hooks, error handlers."""
    yield from (("view " + name, view) for name, view in app.view_functions.items())
    registries = {
        "before_request": app.before_request_funcs,
        "after_request": app.after_request_funcs,
        "teardown_request": app.teardown_request_funcs,
        "url_value_preprocessor": app.url_value_preprocessors,
        "url_default": app.url_default_functions,
        "template_context_processor": app.template_context_processors,
    }
    for kind, by_blueprint in registries.items():
        for functions in by_blueprint.values():
            yield from ((kind, function) for function in functions)
    yield from (("teardown_appcontext", f) for f in app.teardown_appcontext_funcs)
    for by_code in app.error_handler_spec.values():
        for handlers in by_code.values():
            yield from (("error handler", handler) for handler in handlers.values())


def _is_async(function: Any) -> bool:
    """A coroutine function, unwrapped from partials and decorators."""
    while isinstance(function, functools.partial):
        function = function.func
    return inspect.iscoroutinefunction(inspect.unwrap(function))


def test_every_view_hook_and_handler_is_synchronous(app):
    """The app skips Flask's per-call coroutine check (Conduit.ensure_sync): an async function
    anywhere would then return an unawaited coroutine instead of running."""
    found = list(_callables(app))
    assert len(found) > 40  # the walk reaches the app's views and hooks
    assert [kind for kind, function in found if _is_async(function)] == []


def test_the_walk_would_find_an_async_view(app):
    async def late() -> dict[str, str]:
        return {}

    app.add_url_rule("/late", view_func=late)
    assert ("view late", late) in list(_callables(app))
    assert _is_async(app.view_functions["late"])


def test_no_request_sets_a_cookie(app):
    client = app.test_client()
    user = UserFactory(client)("jake")
    credentials = {"email": user["email"], "password": user["password"]}
    responses = [
        client.get("/api/user", headers=user["headers"]),
        client.post("/api/users/login", json={"user": credentials}),
        client.get("/api/articles"),
    ]
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert all("Set-Cookie" not in r.headers for r in responses)


def test_cookie_session_is_read_only(app):
    """flask.session is Flask's null session: nothing can be stored in a cookie by mistake."""
    with app.test_request_context("/api/articles"):
        assert not session
        with pytest.raises(RuntimeError):
            session["user_id"] = 1
