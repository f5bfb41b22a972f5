"""Write helpers: they add and flush, never commit (the view owns the transaction)."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from typing import Any

from slugify import slugify
from sqlalchemy import delete, select
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


def insert_ignore(
    session: AnySession, model: type[Base], rows: Iterable[Mapping[str, Any]]
) -> None:
    """INSERT ... ON CONFLICT DO NOTHING: idempotent under concurrency, no check-then-insert."""
    rows = list(rows)
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert(model).values(rows).on_conflict_do_nothing())


def set_tags(session: AnySession, article_id: int, names: Iterable[str]) -> None:
    """Make the article carry exactly these tags, creating the missing ones."""
    # Sorted: concurrent transactions then lock tag rows in the same order and cannot deadlock.
    unique = sorted(set(names))
    session.execute(delete(ArticleTag).filter_by(article_id=article_id))
    if not unique:
        return
    insert_ignore(session, Tag, ({"name": name} for name in unique))
    tag_ids = session.scalars(select(Tag.id).where(Tag.name.in_(unique)))
    insert_ignore(
        session, ArticleTag, ({"article_id": article_id, "tag_id": tag_id} for tag_id in tag_ids)
    )
