"""Write helpers: they add and flush, never commit (the view owns the transaction)."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from typing import Any

from slugify import slugify
from sqlalchemy import Integer, delete, literal, select
from sqlalchemy.dialects import postgresql, sqlite

from .database import AnySession
from .models import ArticleTag, Base, Tag

# Room for the random suffix inside the 300-character slug column.
SLUG_BASE_LENGTH = 200


def new_slug(title: str) -> str:
    """A slug from the title plus a random suffix, so equal titles (even racing) never collide."""
    base = slugify(title, max_length=SLUG_BASE_LENGTH, word_boundary=True)
    # 48 random bits: two equal titles collide with odds of about 1 in 10^14.
    suffix = secrets.token_hex(6)
    return f"{base}-{suffix}" if base else suffix


def _insert(session: AnySession, model: type[Base]) -> Any:
    """The dialect's INSERT for the model's table (both have ON CONFLICT)."""
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)


def insert_ignore(
    session: AnySession, model: type[Base], rows: Iterable[Mapping[str, Any]]
) -> None:
    """INSERT ... ON CONFLICT DO NOTHING: idempotent under concurrency, no check-then-insert."""
    rows = list(rows)
    if not rows:
        return
    session.execute(_insert(session, model).values(rows).on_conflict_do_nothing())


def set_tags(
    session: AnySession, article_id: int, names: Iterable[str], *, new: bool = False
) -> None:
    """Make the article carry exactly these tags, creating the missing ones; `new`: the article
    was just inserted, so it carries none yet (no DELETE)."""
    # Sorted: concurrent transactions then lock tag rows in the same order and cannot deadlock.
    unique = sorted(set(names))
    if not new:
        session.execute(delete(ArticleTag).filter_by(article_id=article_id))
    if not unique:
        return
    insert_ignore(session, Tag, ({"name": name} for name in unique))
    # The links in one INSERT ... SELECT: the tags' ids never travel to the app and back.
    links = select(literal(article_id, Integer), Tag.id).where(Tag.name.in_(unique))
    session.execute(
        _insert(session, ArticleTag)
        .from_select(["article_id", "tag_id"], links)
        .on_conflict_do_nothing()
    )
