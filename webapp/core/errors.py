"""Domain errors: raised by the shared code and the views, rendered by each app's error boundary."""

from __future__ import annotations

import re

from sqlalchemy import exc as sa_exc


class APIError(Exception):
    """A domain error with an HTTP status; raised anywhere, rendered at the app's boundary."""

    status_code = 400

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def body(self) -> dict[str, list[str]]:
        """The errors object: the message, and under its field when there is one."""
        if self.field is None:
            return {"body": [self.message]}
        return {"body": [f"{self.field} {self.message}"], self.field: [self.message]}


class Unauthorized(APIError):
    """Missing or invalid credentials."""

    status_code = 401


class Forbidden(APIError):
    """Authenticated, but not allowed to act on this resource."""

    status_code = 403


class NotFound(APIError):
    """No such record."""

    status_code = 404


class Unprocessable(APIError):
    """Well-formed request whose content is invalid or conflicts with existing data."""

    status_code = 422


# "uq_users_email" (PostgreSQL, our naming convention) or "UNIQUE constraint failed: users.email".
_UNIQUE_SQLITE = re.compile(r"UNIQUE constraint failed: \w+\.(\w+)")
_UNIQUE_NAME = re.compile(r"^uq_[a-z]+_(\w+)$")
# A column that holds another field's normalised form is reported as that field.
_FIELD_OF_COLUMN = {"username_key": "username"}


def unique_violation_field(error: sa_exc.IntegrityError) -> str | None:
    """The column a unique violation is about, when it can be told."""
    diag = getattr(error.orig, "diag", None)
    name = getattr(diag, "constraint_name", None)
    match = (_UNIQUE_NAME.match(name) if name else None) or _UNIQUE_SQLITE.search(str(error.orig))
    if match is None:
        return None
    return _FIELD_OF_COLUMN.get(match.group(1), match.group(1))
