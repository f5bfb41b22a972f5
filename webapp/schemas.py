"""marshmallow schemas: the only (de)serialization and validation layer. camelCase via data_key."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from marshmallow import Schema, fields, validate

from .auth import issue_token


class UTCDateTime(fields.DateTime):
    """ISO 8601 in UTC with milliseconds and a trailing Z, e.g. 2026-11-25T12:34:56.789Z."""

    def _serialize(self, value: datetime | None, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        if value is None:
            return None
        # SQLite hands back naive datetimes; everything is stored in UTC.
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


class LowerEmail(fields.Email):
    """An email address, trimmed and lower-cased so comparisons ignore case."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if isinstance(value, str):
            value = value.strip().lower()
        return super()._deserialize(value, attr, data, **kwargs)


def validate_image(value: str) -> None:
    """An image is empty or an absolute http(s) URL."""
    if value:
        validate.URL(schemes={"http", "https"}, require_tld=False)(value)


def envelope(key: str, schema: type[Schema], *, many: bool = False) -> type[Schema]:
    """Wrap a schema as {key: ...}, or a page {key: [...], keyCount: n} when many (like Page[T])."""
    attrs: dict[str, fields.Field] = {key: fields.Nested(schema, many=many, required=True)}
    if many:
        attrs[f"{key}Count"] = fields.Integer(required=True)
    name = schema.__name__.removesuffix("Schema") + ("Page" if many else "Envelope")
    return Schema.from_dict(attrs, name=name)


USERNAME = validate.And(
    validate.Length(min=1, max=64),
    validate.Regexp(r"^[\w.\-]+$", error="may contain only letters, digits, '_', '.' and '-'."),
)
PASSWORD = validate.Length(min=8, max=256)
EMAIL = validate.Length(max=254)


# --- users -------------------------------------------------------------------------------------


class RegisterSchema(Schema):
    """NewUser: what registration accepts."""

    username = fields.String(required=True, validate=USERNAME)
    email = LowerEmail(required=True, validate=EMAIL)
    password = fields.String(required=True, validate=PASSWORD, load_only=True)


class LoginSchema(Schema):
    """LoginUser: credentials."""

    email = LowerEmail(required=True, validate=EMAIL)
    password = fields.String(
        required=True, validate=validate.Length(min=1, max=256), load_only=True
    )


class UpdateUserSchema(Schema):
    """UpdateUser: any subset of the account's fields."""

    username = fields.String(validate=USERNAME)
    email = LowerEmail(validate=EMAIL)
    password = fields.String(validate=PASSWORD, load_only=True)
    bio = fields.String(allow_none=True, validate=validate.Length(max=10_000))
    image = fields.String(allow_none=True, validate=[validate.Length(max=2048), validate_image])


class UserSchema(Schema):
    """User: the account as its owner sees it, with a fresh access token."""

    email = fields.String(required=True)
    token = fields.Function(issue_token, required=True, metadata={"type": "string"})
    username = fields.String(required=True)
    bio = fields.String(required=True)
    image = fields.String(required=True)


RegisterRequest = envelope("user", RegisterSchema)
LoginRequest = envelope("user", LoginSchema)
UpdateUserRequest = envelope("user", UpdateUserSchema)
UserResponse = envelope("user", UserSchema)
