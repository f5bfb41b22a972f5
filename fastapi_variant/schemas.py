"""pydantic v2 models: request bodies, responses and their envelopes. camelCase via aliases."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import (
    AfterValidator,
    AnyHttpUrl,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    PlainSerializer,
    StringConstraints,
    TypeAdapter,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

# Offsets beyond a 32-bit integer cannot match anything and overflow some drivers.
MAX_OFFSET = 2**31 - 1


def utc_iso(value: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and a trailing Z, e.g. 2026-11-25T12:34:56.789Z."""
    # SQLite hands back naive datetimes; everything is stored in UTC.
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _strip(value: Any) -> Any:
    """Trim surrounding whitespace from strings; other types reach the type check unchanged."""
    return value.strip() if isinstance(value, str) else value


def _lower(value: Any) -> Any:
    """NFKC-normalise, trim and lower-case strings, so emails compare like the Flask app's."""
    if isinstance(value, str):
        return unicodedata.normalize("NFKC", value).strip().lower()
    return value


def _not_dot_segment(value: str) -> str:
    """ "." and ".." are path segments browsers and proxies rewrite."""
    if value in (".", ".."):
        raise ValueError("cannot be '.' or '..'.")
    return value


def _not_blank(value: str) -> str:
    """Reject strings that are empty once whitespace is stripped."""
    if not value.strip():
        raise ValueError("can't be blank")
    return value


def _no_nul(value: str) -> str:
    """PostgreSQL text cannot hold NUL; reject it on every database alike."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters.")
    return value


_HTTP_URL = TypeAdapter(AnyHttpUrl)


def _image(value: str | None) -> str | None:
    """An image is empty or an absolute http(s) URL."""
    if value:
        _HTTP_URL.validate_python(value)
    return value


UtcDateTime = Annotated[datetime, PlainSerializer(utc_iso, return_type=str)]
# ASCII only, matched in full (as the Flask app's USERNAME): look-alike letters of other scripts
# would survive NFKC and case folding.
USERNAME_PATTERN = r"^[A-Za-z0-9_.\-]+$"
Username = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64, pattern=USERNAME_PATTERN),
    AfterValidator(_not_dot_segment),
]
Email = Annotated[EmailStr, BeforeValidator(_lower), StringConstraints(max_length=254)]
Password = Annotated[str, StringConstraints(min_length=8, max_length=256)]
TagName = Annotated[
    str,
    BeforeValidator(_strip),
    StringConstraints(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$"),
]
TagList = Annotated[list[TagName], Field(max_length=20)]
Title = Annotated[
    str,
    StringConstraints(min_length=1, max_length=255),
    AfterValidator(_not_blank),
    AfterValidator(_no_nul),
]
Description = Annotated[str, StringConstraints(max_length=1000), AfterValidator(_no_nul)]
Body = Annotated[
    str,
    StringConstraints(min_length=1, max_length=65_536),
    AfterValidator(_not_blank),
    AfterValidator(_no_nul),
]
CommentBody = Annotated[
    str,
    StringConstraints(min_length=1, max_length=10_000),
    AfterValidator(_not_blank),
    AfterValidator(_no_nul),
]


class Input(BaseModel):
    """Request bodies: camelCase on the wire; fields the model does not know (read-only ones that
    clients echo back, like `slug` or `token`) are dropped, pydantic's default."""

    model_config = ConfigDict(alias_generator=to_camel, validate_by_name=True, extra="ignore")


class Update(Input):
    """A partial update: any subset of the fields, but at least one known field."""

    @model_validator(mode="after")
    def _changes_something(self) -> Update:
        if not self.model_fields_set:
            raise ValueError("at least one known field is required.")
        return self


class Output(BaseModel):
    """Responses: camelCase on the wire, read from views and ORM rows by attribute."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        serialize_by_alias=True,
        validate_by_name=True,
        from_attributes=True,
    )


T = TypeVar("T")


class UserEnvelope(Input, Output, Generic[T]):
    """{"user": T}: the request and response envelope of the user resource."""

    user: T


class ArticleEnvelope(Input, Output, Generic[T]):
    """{"article": T}."""

    article: T


class CommentEnvelope(Input, Output, Generic[T]):
    """{"comment": T}."""

    comment: T


class ProfileEnvelope(Output, Generic[T]):
    """{"profile": T}."""

    profile: T


class ArticlePage(Output, Generic[T]):
    """A page of T: {"articles": [...], "articlesCount": total}."""

    articles: list[T]
    articles_count: int


class CommentList(Output, Generic[T]):
    """{"comments": [...]}."""

    comments: list[T]


class TagsOut(Output):
    """{"tags": [...]}."""

    tags: list[str]


class HealthOut(Output):
    """Liveness or readiness of the service."""

    status: str


# --- users ---------------------------------------------------------------------------------------


class NewUser(Input):
    """What registration accepts."""

    username: Username
    email: Email
    password: Password


class LoginUser(Input):
    """Credentials."""

    email: Email
    password: Annotated[str, StringConstraints(min_length=1, max_length=256)]


class UpdateUser(Update):
    """Any subset of the account's fields; bio and image may be null (cleared); a blank or null
    password leaves it unchanged (settings forms send the whole form)."""

    username: Username | None = None
    email: Email | None = None
    password: Password | None = None
    bio: Annotated[str | None, StringConstraints(max_length=10_000)] = None
    image: Annotated[str | None, StringConstraints(max_length=2048), AfterValidator(_image)] = None

    @model_validator(mode="before")
    @classmethod
    def _blank_password_is_unchanged(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("password", 0) in ("", None):
            data = {key: value for key, value in data.items() if key != "password"}
        return data

    @field_validator("username", "email", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        """Only bio and image can be cleared; the other fields are omitted or given."""
        if value is None:
            raise ValueError("Field may not be null.")
        return value


class UserOut(Output):
    """The account as its owner sees it, with an access token."""

    email: str
    token: str
    username: str
    bio: str
    image: str


# --- profiles, articles, comments ---------------------------------------------------------------


class ProfileOut(Output):
    """A user as others see them; `following` is the reader's relation to them."""

    username: str
    bio: str
    image: str
    following: bool


class NewArticle(Input):
    """What publishing accepts; tags are trimmed, sorted and de-duplicated later."""

    title: Title
    description: Description
    body: Body
    tag_list: TagList = []


class UpdateArticle(Update):
    """Any subset of the fields; tagList replaces the tags."""

    title: Title | None = None
    description: Description | None = None
    body: Body | None = None
    tag_list: TagList | None = None

    @field_validator("title", "description", "body", "tag_list", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        """A field is omitted or given a value; null is not a value here."""
        if value is None:
            raise ValueError("Field may not be null.")
        return value


class ArticleListItem(Output):
    """An article in a list: everything but the body."""

    slug: str
    title: str
    description: str
    tag_list: list[str]
    created_at: UtcDateTime
    updated_at: UtcDateTime
    favorited: bool
    favorites_count: int
    author: ProfileOut


class ArticleOut(ArticleListItem):
    """An article with its body."""

    body: str


class NewComment(Input):
    """The text."""

    body: CommentBody


class CommentOut(Output):
    """A comment with its author's profile as the reader sees it."""

    id: int
    created_at: UtcDateTime
    updated_at: UtcDateTime
    body: str
    author: ProfileOut
