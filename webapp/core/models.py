"""Typed ORM models: tables, keys and constraints. Reads select the columns they need (queries.py)
instead of navigating relationships; a relationship added later must be lazy="raise"."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, validates

# Stable constraint names, so migrations (and SQLite batch mode) can address them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base whose metadata carries the naming convention; no framework attached."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    """The current time, timezone-aware UTC (a callable default, evaluated per row)."""
    return datetime.now(UTC)


def _same_as_created(context: Any) -> datetime:
    """A new row's updated_at: its created_at exactly, not a second clock reading (which can fall
    in the next millisecond on the wire)."""
    created: datetime | None = context.get_current_parameters().get("created_at")
    return created or utcnow()


class Timestamped:
    """created_at/updated_at columns set by the ORM on insert and update."""

    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=_same_as_created, onupdate=utcnow
    )


def username_key(username: str) -> str:
    """The form two usernames share when they name the same account: NFKC, then case-folded."""
    return unicodedata.normalize("NFKC", username).casefold()


class User(Timestamped, Base):
    """A registered account; also the public profile of its author."""

    __tablename__ = "users"
    # AUTOINCREMENT: SQLite would otherwise reuse the id of the newest account once it is
    # deleted, and that account's tokens would then authenticate as the next user registered.
    # Reflection does not see it, so a batch migration that recreates this table must restate it.
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # As registered (case kept); profiles and filters look it up exactly.
    username: Mapped[str] = mapped_column(String(64), unique=True)
    # username_key(username), kept in step by _set_username_key: unique, so "Bob" and "bob" (or
    # a compatibility form such as fullwidth letters) cannot be two accounts.
    username_key: Mapped[str] = mapped_column(String(64), unique=True)
    # Stored NFKC-normalised and lower-cased, so uniqueness and login ignore case and form.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    bio: Mapped[str] = mapped_column(Text, default="")
    image: Mapped[str] = mapped_column(String(2048), default="")
    # Tokens carry the version they were issued under; a password change increments it, which
    # revokes every token issued before.
    token_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    @validates("username")
    def _set_username_key(self, _attribute: str, username: str) -> str:
        """Keep username_key in step with every assignment of username."""
        self.username_key = username_key(username)
        return username

    def __repr__(self) -> str:
        return f"<User {self.id} {self.username!r}>"


class Follow(Base):
    """follower follows followed."""

    __tablename__ = "follows"
    __table_args__ = (
        CheckConstraint("follower_id <> followed_id", name="not_self"),
        Index("ix_follows_followed_id", "followed_id"),
    )

    follower_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    followed_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Tag(Base):
    """A tag name, shared by every article that carries it."""

    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)


class ArticleTag(Base):
    """Link between an article and one of its tags."""

    __tablename__ = "article_tags"
    __table_args__ = (Index("ix_article_tags_tag_id", "tag_id"),)

    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True)


class Favorite(Base):
    """user favorited article."""

    __tablename__ = "favorites"
    __table_args__ = (Index("ix_favorites_article_id", "article_id"),)

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Article(Timestamped, Base):
    """A published article."""

    __tablename__ = "articles"
    # No AUTOINCREMENT (unlike users and comments): article ids never leave the database (slugs
    # name articles) and every row that refers to one is deleted with it, so reuse is harmless.
    __table_args__ = (
        # Lists: newest first, id breaks ties; the author index serves profile lists and the feed,
        # in the same order per author, so the feed takes each author's newest rows off it.
        Index("ix_articles_created_at_id", "created_at", "id"),
        Index("ix_articles_author_id_created_at_id", "author_id", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(300), unique=True)
    title: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))

    def __repr__(self) -> str:
        return f"<Article {self.id} {self.slug!r}>"


class Comment(Timestamped, Base):
    """A comment on an article."""

    __tablename__ = "comments"
    # AUTOINCREMENT on SQLite: comment ids are public (DELETE .../comments/{id}), so a deleted
    # comment's id must never come back as a newer comment's (see User).
    __table_args__ = (
        Index("ix_comments_article_id_id", "article_id", "id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    body: Mapped[str] = mapped_column(Text)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
