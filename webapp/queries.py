"""Read queries that state what they load: author by join, tags in one selectin statement, and the
reader's facts (favorited, favoritesCount, following) as subqueries in the same statement."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Select, exists, false, func
from sqlalchemy.orm import contains_eager, defer, selectinload, with_expression

from .extensions import db
from .models import Article, ArticleTag, Comment, Favorite, Follow, Tag, User


class Page(NamedTuple):
    """One page of results and the total number of matches."""

    items: list[Any]
    total: int


def following(reader_id: int | None, user_id: Any = User.id) -> ColumnElement[bool]:
    """Whether the reader follows the user (false for anonymous readers)."""
    if reader_id is None:
        return false()
    return exists().where(Follow.follower_id == reader_id, Follow.followed_id == user_id)


def favorited(reader_id: int | None) -> ColumnElement[bool]:
    """Whether the reader has favorited the article being selected."""
    if reader_id is None:
        return false()
    return exists().where(Favorite.article_id == Article.id, Favorite.user_id == reader_id)


def favorites_count() -> ColumnElement[int]:
    """How many users favorited the article being selected (a correlated count)."""
    return (
        db.select(func.count())
        .select_from(Favorite)
        .where(Favorite.article_id == Article.id)
        .scalar_subquery()
    )


def _articles(reader_id: int | None) -> Select[Any]:
    """Articles with author, tags and the reader's facts: one statement plus one for tags."""
    return (
        db.select(Article)
        .join(Article.author)
        .options(
            contains_eager(Article.author).with_expression(User.following, following(reader_id)),
            with_expression(Article.favorited, favorited(reader_id)),
            with_expression(Article.favorites_count, favorites_count()),
            selectinload(Article.tags),
        )
        # Objects already in the session (just written) get fresh per-reader facts too.
        .execution_options(populate_existing=True)
    )


def _page(stmt: Select[Any], limit: int, offset: int) -> Page:
    """Newest first, ties broken by id; the total comes with the rows via count(*) OVER ()."""
    base = stmt
    stmt = (
        stmt.add_columns(func.count().over().label("total"))
        .options(defer(Article.body, raiseload=True))
        .order_by(Article.created_at.desc(), Article.id.desc())
        .limit(limit)
        .offset(offset)
    )
    rows = db.session.execute(stmt).all()
    if rows:
        return Page([row[0] for row in rows], rows[0].total)
    if offset == 0:
        return Page([], 0)
    # Past the end there is no row to carry the total: count separately (no tags to load then).
    count = db.select(func.count()).select_from(base.with_only_columns(Article.id).subquery())
    return Page([], db.session.scalar(count) or 0)


def articles_page(
    reader_id: int | None,
    *,
    limit: int,
    offset: int,
    tag: str | None = None,
    author: str | None = None,
    favorited: str | None = None,
) -> Page:
    """Articles matching every given filter (exact tag, author username, favorited by username)."""
    stmt = _articles(reader_id)
    if tag is not None:
        stmt = stmt.where(
            Article.id.in_(db.select(ArticleTag.article_id).join(Tag).where(Tag.name == tag))
        )
    if author is not None:
        stmt = stmt.where(User.username == author)
    if favorited is not None:
        fans = db.select(Favorite.article_id).join(User, User.id == Favorite.user_id)
        stmt = stmt.where(Article.id.in_(fans.where(User.username == favorited)))
    return _page(stmt, limit, offset)


def feed_page(reader_id: int, *, limit: int, offset: int) -> Page:
    """Articles by authors the reader follows, newest first."""
    followed = db.select(Follow.followed_id).where(Follow.follower_id == reader_id)
    return _page(_articles(reader_id).where(Article.author_id.in_(followed)), limit, offset)


def article_by_slug(slug: str, reader_id: int | None) -> Article:
    """The article with its author, tags and the reader's facts; 404 when there is none."""
    return db.one_or_404(
        _articles(reader_id).where(Article.slug == slug), description="Article not found."
    )


def article_id_by_slug(slug: str) -> int:
    """Just the id of the article with this slug; 404 when there is none."""
    return db.one_or_404(
        db.select(Article.id).filter_by(slug=slug), description="Article not found."
    )


def article_for_update(slug: str) -> Article:
    """The bare article row (no relationships), for its author to change or delete; 404 if none."""
    return db.one_or_404(db.select(Article).filter_by(slug=slug), description="Article not found.")


def profile_by_username(username: str, reader_id: int | None) -> User:
    """The user with the reader's `following`; 404 when there is none."""
    stmt = (
        db.select(User)
        .filter_by(username=username)
        .options(with_expression(User.following, following(reader_id)))
        .execution_options(populate_existing=True)
    )
    return db.one_or_404(stmt, description="Profile not found.")


def user_by_username(username: str) -> User:
    """The bare user row; 404 when there is none."""
    return db.one_or_404(
        db.select(User).filter_by(username=username), description="Profile not found."
    )


def comments_for_article(slug: str, reader_id: int | None) -> Sequence[Comment]:
    """An article's comments, oldest first, with authors and the reader's `following`."""
    article_id = article_id_by_slug(slug)
    stmt = (
        db.select(Comment)
        .join(Comment.author)
        .options(
            contains_eager(Comment.author).with_expression(User.following, following(reader_id))
        )
        .where(Comment.article_id == article_id)
        .order_by(Comment.id)
        .execution_options(populate_existing=True)
    )
    return db.session.scalars(stmt).all()


def comment_in_article(slug: str, comment_id: int) -> Comment:
    """The comment with this id on the article with this slug; 404 otherwise."""
    stmt = (
        db.select(Comment)
        .join(Article, Article.id == Comment.article_id)
        .where(Comment.id == comment_id, Article.slug == slug)
    )
    return db.one_or_404(stmt, description="Comment not found.")


def tag_names() -> list[str]:
    """Every tag carried by at least one article, once each, by name."""
    in_use = exists().where(ArticleTag.tag_id == Tag.id)
    return list(db.session.scalars(db.select(Tag.name).where(in_use).order_by(Tag.name)))
