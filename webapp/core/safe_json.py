"""JSON request bodies the API can safely store and process, for both apps' body parsing.

No string (key or value) with a NUL (PostgreSQL text cannot hold one) or a lone UTF-16
surrogate (not encodable as UTF-8), no nesting deeper than any request needs, no integer longer
than Python converts.
"""

from __future__ import annotations

import json
import re
from typing import Any

# Our bodies nest three levels ({"article": {"tagList": [...]}}); the bound keeps walks cheap.
MAX_JSON_DEPTH = 16
# Far above any id or page number; int() itself refuses 4,300 digits and more.
MAX_INT_DIGITS = 100
UNSAFE_CHARACTERS = re.compile("[\x00\ud800-\udfff]")
UNSAFE_MESSAGE = "must not contain NUL or unpaired surrogate characters."
TOO_DEEP = "Request body is nested too deeply."
TOO_LONG = f"Request body has an integer over {MAX_INT_DIGITS} digits."


class UnsafeBody(ValueError):
    """A body refused before validation: where (a field path, maybe empty) and why."""

    def __init__(self, path: tuple[str, ...], message: str) -> None:
        super().__init__(f"{'.'.join(path)} {message}".strip())
        self.path = path
        self.message = message


def _parse_int(text: str) -> int:
    """A JSON integer, refused before int() spends time on (or rejects) a huge one."""
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise OverflowError(text[:20])
    return int(text)


def loads(text: str) -> Any:
    """The JSON value of text; json.JSONDecodeError when it is not JSON, UnsafeBody when it is
    JSON the API must not process."""
    try:
        data = json.loads(text, parse_int=_parse_int)
    except RecursionError:
        raise UnsafeBody((), TOO_DEEP) from None
    except OverflowError:
        raise UnsafeBody((), TOO_LONG) from None
    check(data)
    return data


def check(data: Any) -> None:
    """Refuse unsafe strings and deep nesting, naming where; a loop, so depth costs no stack."""
    pending: list[tuple[Any, tuple[str, ...]]] = [(data, ())]
    while pending:
        value, path = pending.pop()
        if len(path) > MAX_JSON_DEPTH:
            raise UnsafeBody((), TOO_DEEP)
        if isinstance(value, str):
            if UNSAFE_CHARACTERS.search(value):
                raise UnsafeBody(path, UNSAFE_MESSAGE)
        elif isinstance(value, dict):
            for key, item in value.items():
                if UNSAFE_CHARACTERS.search(key):
                    raise UnsafeBody(path, f"has a key that {UNSAFE_MESSAGE}")
                pending.append((item, (*path, key)))
        elif isinstance(value, list):
            pending.extend((item, (*path, str(i))) for i, item in enumerate(value))
