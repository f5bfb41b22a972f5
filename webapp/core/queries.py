"""Read queries that state what they load. Every read is one statement: the columns the response
needs as rows (authors joined; tags, the reader's facts and the page total as subqueries), turned
into small typed views (articles, profiles, comments) that the marshmallow schemas dump."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from itertools import combinations
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    bindparam,
    exists,
    false,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.exc import MultipleResultsFound

from .database import AnySession, session_dialect, session_rows
from .errors import NotFound, Unauthorized, Unprocessable
from .models import Article, ArticleTag, Comment, Favorite, Follow, Tag, User, username_key
from .security import TokenClaims

# Joins an article's tag names into one column; tag names cannot contain control characters
# (schemas.TagName), so the unit separator never occurs inside a name.
TAG_SEPARATOR = "\x1f"


# Views are plain slotted dataclasses, not frozen ones: a frozen dataclass's __init__ sets each
# field through object.__setattr__, 3-4x the cost, and a page builds 40 of them.
@dataclass(slots=True)
class ProfileView:
    """A user as the reader sees them (dumped by ProfileSchema): a profile, an author."""

    username: str
    bio: str
    image: str
    following: bool


@dataclass(slots=True)
class ArticleView:
    """An article as the reader sees it (dumped by ArticleSchema); no body in lists."""

    slug: str
    title: str
    description: str
    tag_list: list[str]
    created_at: datetime
    updated_at: datetime
    favorited: bool
    favorites_count: int
    author: ProfileView
    body: str | None = None


@dataclass(slots=True)
class CommentView:
    """A comment with its author as the reader sees them (dumped by CommentSchema)."""

    id: int
    created_at: datetime
    updated_at: datetime
    body: str
    author: ProfileView


class Page(NamedTuple):
    """One page of results and the total number of matches."""

    items: list[ArticleView]
    total: int


# The reader's id in a statement: a value, a bind parameter, or None for anonymous readers.
ReaderId = int | ColumnElement[int] | None
T = TypeVar("T")


def _one_or_none(rows: Sequence[Sequence[Any]]) -> Sequence[Any] | None:
    """The only row, or None; more than one is a bug (lookups are by unique keys)."""
    if len(rows) > 1:
        raise MultipleResultsFound("a lookup by a unique key found more than one row")
    return rows[0] if rows else None


def _found(value: T | None, what: str) -> T:
    """The value looked up, or the one 404: "<what> not found."."""
    if value is None:
        raise NotFound(f"{what} not found.")
    return value


def following(reader_id: ReaderId, user_id: Any = User.id) -> ColumnElement[bool]:
    """Whether the reader follows the user (false for anonymous readers)."""
    if reader_id is None:
        return false()
    return exists().where(Follow.follower_id == reader_id, Follow.followed_id == user_id)


def favorited(reader_id: ReaderId) -> ColumnElement[bool]:
    """Whether the reader has favorited the article being selected."""
    if reader_id is None:
        return false()
    return exists().where(Favorite.article_id == Article.id, Favorite.user_id == reader_id)


def favorites_count() -> ColumnElement[int]:
    """How many users favorited the article being selected (a correlated count)."""
    return (
        select(func.count())
        .select_from(Favorite)
        .where(Favorite.article_id == Article.id)
        .scalar_subquery()
    )


def joined_tag_names() -> ColumnElement[str | None]:
    """The article's tag names joined by TAG_SEPARATOR (string_agg / group_concat); NULL if none."""
    return (
        select(func.aggregate_strings(Tag.name, TAG_SEPARATOR))
        .select_from(ArticleTag)
        .join(Tag, Tag.id == ArticleTag.tag_id)
        .where(ArticleTag.article_id == Article.id)
        .scalar_subquery()
    )


def _article_columns(reader_id: ReaderId, *, body: bool) -> list[Any]:
    """What a row of an article carries: its columns, author, tags and the reader's facts (in
    this order, which _view relies on)."""
    columns: list[Any] = [
        Article.slug,
        Article.title,
        Article.description,
        joined_tag_names().label("tags"),
        Article.created_at,
        Article.updated_at,
        favorited(reader_id).label("favorited"),
        favorites_count().label("favorites_count"),
        User.username,
        User.bio,
        User.image,
        following(reader_id).label("following"),
    ]
    if body:
        columns.append(Article.body)
    return columns


def _view(row: Sequence[Any], body: str | None = None) -> ArticleView:
    """A row of _article_columns as a view; tag names sorted by code point, as on both databases."""
    # Unpacked by position (the order of _article_columns); rows carry no names (session_rows).
    (slug, title, description, tags, created, updated, favorited, count, *author) = row[:12]
    return ArticleView(
        slug,
        title,
        description,
        sorted(tags.split(TAG_SEPARATOR)) if tags else [],
        created,
        updated,
        bool(favorited),
        count,
        ProfileView(author[0], author[1], author[2], bool(author[3])),
        body,
    )


# Article statements are built once per shape (signed in or not, which filters) with every value
# a bind parameter, so a request only binds values instead of rebuilding the expression tree.
READER = bindparam("reader_id", type_=Integer)
FILTERS: dict[str, ColumnElement[bool]] = {
    "tag": Article.id.in_(
        select(ArticleTag.article_id).join(Tag).where(Tag.name == bindparam("tag"))
    ),
    "author": Article.author_id.in_(select(User.id).where(User.username == bindparam("author"))),
    "favorited": Article.id.in_(
        select(Favorite.article_id)
        .join(User, User.id == Favorite.user_id)
        .where(User.username == bindparam("favorited"))
    ),
}
# The reader's account, matched on id and token version: joined into a signed-in page, it leaves
# the statement without rows when the token is revoked or the account gone, so the page checks
# the token in the same round trip instead of looking the account up first.
READER_ROW = (
    select(User.id)
    .where(User.id == READER, User.token_version == bindparam("token_version", type_=Integer))
    .subquery("reader")
)


def _hung_off_total(total: Any, ids: Any, signed_in: bool) -> Select[Any]:
    """The page's articles, with their columns, tags and the reader's facts, hung off the one-row
    total by a LEFT JOIN: past the end the statement still answers one row, with the total and no
    article. Signed in, the reader's row is joined too (READER_ROW): no row at all then means the
    token is no longer valid."""
    columns = _article_columns(READER if signed_in else None, body=False)
    return (
        select(*columns, total.c.total)
        .select_from(total.join(READER_ROW, true()) if signed_in else total)
        .outerjoin(ids, true())
        .outerjoin(Article, Article.id == ids.c.id)
        .outerjoin(User, User.id == Article.author_id)
        .order_by(Article.created_at.desc(), Article.id.desc())
    )


@cache
def _page_statement(signed_in: bool, filters: tuple[str, ...]) -> Select[Any]:
    """The page (newest first, ties by id) and the total, one statement even past the end.

    The page's ids are picked first from the (created_at, id) index, OFFSET and LIMIT applied
    there, so a deep page skips index entries instead of computing tags and counts for every
    skipped row; only the ids kept get their columns, tags and the reader's facts.

    LIMIT and OFFSET are written into the SQL as numbers (validated integers, rendered when the
    statement runs; compiled once all the same). As parameters, PostgreSQL can only guess the
    page size of a prepared statement's generic plan, finds it dearer than a plan for the actual
    values and plans the statement again on every execution: about 0.25 ms of its CPU, as much
    as running it. As numbers, each page shape gets a generic plan, planned once per connection.
    """
    conditions = [FILTERS[name] for name in filters]
    total = (select(func.count().label("total")).select_from(Article).where(*conditions)).subquery(
        "total"
    )
    ids = (
        select(Article.id)
        .where(*conditions)
        .order_by(Article.created_at.desc(), Article.id.desc())
        .limit(bindparam("limit", type_=Integer, literal_execute=True))
        .offset(bindparam("offset", type_=Integer, literal_execute=True))
        .subquery("page")
    )
    return _hung_off_total(total, ids, signed_in)


@cache
def _feed_statement(lateral: bool) -> Select[Any]:
    """The feed's page and total in one statement, reached from the reader's follows.

    The page and the total read only the followed authors' entries of the (author_id,
    created_at, id) index, never the whole table. With LATERAL (PostgreSQL) each followed author
    offers just its newest limit + offset articles, all the page can need from it, so the cost is
    bounded by followed authors x (limit + offset); SQLite has no LATERAL and sorts every article
    of the followed authors instead. Results are the same: newest first, ties by id.
    """
    limit = bindparam("limit", type_=Integer)
    offset = bindparam("offset", type_=Integer)
    total = (
        select(func.count().label("total"))
        .select_from(Follow)
        .join(Article, Article.author_id == Follow.followed_id)
        .where(Follow.follower_id == READER)
    ).subquery("total")
    if lateral:
        newest = (
            select(Article.id, Article.created_at)
            .where(Article.author_id == Follow.followed_id)
            .order_by(Article.created_at.desc(), Article.id.desc())
            .limit(limit + offset)
            .correlate(Follow)
            .lateral("newest")
        )
        candidates = select(newest.c.id, newest.c.created_at).join_from(Follow, newest, true())
    else:
        candidates = select(Article.id, Article.created_at).join_from(
            Follow, Article, Article.author_id == Follow.followed_id
        )
    picked = candidates.selected_columns
    ids = (
        candidates.where(Follow.follower_id == READER)
        .order_by(picked.created_at.desc(), picked.id.desc())
        .limit(limit)
        .offset(offset)
        .subquery("page")
    )
    return _hung_off_total(total, ids, signed_in=True)


def _page(
    session: AnySession,
    statement: Select[Any],
    reader: TokenClaims | None,
    values: dict[str, Any],
) -> Page:
    """Run a page statement: its articles and total; 401 when the reader's token is revoked or
    their account gone (READER_ROW matched nothing, so there is no row at all)."""
    params = dict(values)
    if reader is not None:
        params.update(reader_id=reader.user_id, token_version=reader.version)
    rows = session_rows(session, statement, params)
    if not rows:
        raise Unauthorized("Token is invalid or expired.")
    # Past the end (or with no match) the one row carries the total (last) and no article (no
    # slug, first).
    return Page([_view(row) for row in rows if row[0] is not None], rows[0][-1])


def articles_page(
    session: AnySession,
    reader: TokenClaims | None,
    *,
    limit: int,
    offset: int,
    tag: str | None = None,
    author: str | None = None,
    favorited: str | None = None,
) -> Page:
    """Articles matching every given filter (exact tag, author username, favorited by username),
    as the token's reader (checked in the same statement) or an anonymous one sees them."""
    given = {"tag": tag, "author": author, "favorited": favorited}
    values = {name: value for name, value in given.items() if value is not None}
    statement = _page_statement(reader is not None, tuple(values))
    return _page(session, statement, reader, {**values, "limit": limit, "offset": offset})


def feed_page(session: AnySession, reader: TokenClaims, *, limit: int, offset: int) -> Page:
    """Articles by authors the token's reader follows, newest first (the token checked too)."""
    # One statement per dialect: LATERAL where the database has it (see _feed_statement).
    statement = _feed_statement(session_dialect(session).name == "postgresql")
    return _page(session, statement, reader, {"limit": limit, "offset": offset})


@cache
def _article_statement(signed_in: bool) -> Select[Any]:
    """One article by slug, with its body."""
    reader = READER if signed_in else None
    return (
        select(*_article_columns(reader, body=True))
        .join(User, User.id == Article.author_id)
        .where(Article.slug == bindparam("slug"))
    )


def article_by_slug(session: AnySession, slug: str, reader_id: int | None) -> ArticleView:
    """The article with its body, author, tags and the reader's facts; 404 when there is none."""
    stmt = _article_statement(reader_id is not None)
    rows = session_rows(session, stmt, {"slug": slug, "reader_id": reader_id})
    row = _found(_one_or_none(rows), "Article")
    return _view(row, body=row[12])  # the body comes last (_article_columns)


def article_id_by_slug(session: AnySession, slug: str) -> int:
    """Just the id of the article with this slug; 404 when there is none."""
    return _found(session.scalar(select(Article.id).filter_by(slug=slug)), "Article")


def article_for_update(session: AnySession, slug: str) -> Article:
    """The bare article row, locked until the request commits, for its author to change or
    delete; 404 if none.

    The lock (FOR UPDATE on PostgreSQL; SQLite serialises writers anyway) makes concurrent edits
    of one article take turns, so a tag list is always one request's, never a union of two.
    """
    stmt = select(Article).filter_by(slug=slug).with_for_update()
    return _found(session.scalar(stmt), "Article")


def _profile_columns(reader_id: ReaderId) -> list[Any]:
    """What a profile carries: the user's public columns and whether the reader follows them."""
    return [User.username, User.bio, User.image, following(reader_id).label("following")]


def _profile(columns: Sequence[Any]) -> ProfileView:
    """_profile_columns' values, in order, as a view."""
    username, bio, image, following = columns
    return ProfileView(username, bio, image, bool(following))


@cache
def _profile_statement(signed_in: bool) -> Select[Any]:
    """One user by username, as the reader sees them."""
    columns = _profile_columns(READER if signed_in else None)
    return select(*columns).where(User.username == bindparam("username"))


def profile_by_username(session: AnySession, username: str, reader_id: int | None) -> ProfileView:
    """The user as the reader sees them (`following` included); 404 when there is none."""
    stmt = _profile_statement(reader_id is not None)
    rows = session_rows(session, stmt, {"username": username, "reader_id": reader_id})
    return _profile(_found(_one_or_none(rows), "Profile"))


def user_id_by_username(session: AnySession, username: str) -> int:
    """Just the id of the user with this username; 404 when there is none."""
    return _found(session.scalar(select(User.id).filter_by(username=username)), "Profile")


@cache
def _comments_statement(signed_in: bool) -> Select[Any]:
    """An article's comments with their authors, hung off the article by a LEFT JOIN: no row
    means no article, one row without a comment means an article without comments."""
    return (
        select(Comment.id, Comment.created_at, Comment.updated_at, Comment.body)
        .add_columns(*_profile_columns(READER if signed_in else None))
        .select_from(Article)
        .outerjoin(Comment, Comment.article_id == Article.id)
        .outerjoin(User, User.id == Comment.author_id)
        .where(Article.slug == bindparam("slug"))
        .order_by(Comment.id)
    )


def comments_for_article(
    session: AnySession, slug: str, reader_id: int | None
) -> list[CommentView]:
    """An article's comments, oldest first, with authors and the reader's `following`; 404
    when there is no such article."""
    stmt = _comments_statement(reader_id is not None)
    rows = session_rows(session, stmt, {"slug": slug, "reader_id": reader_id})
    _found(rows or None, "Article")
    # The comment's four columns, then its author's (_profile_columns).
    return [
        CommentView(row[0], row[1], row[2], row[3], _profile(row[4:]))
        for row in rows
        if row[0] is not None
    ]


def written_comment(comment: Comment, author: User) -> CommentView:
    """A comment just written (and flushed) as its author sees it: nobody follows themselves."""
    profile = ProfileView(author.username, author.bio, author.image, following=False)
    return CommentView(comment.id, comment.created_at, comment.updated_at, comment.body, profile)


def comment_in_article(session: AnySession, slug: str, comment_id: int) -> Comment:
    """The comment with this id on the article with this slug; 404 otherwise."""
    stmt = (
        select(Comment)
        .join(Article, Article.id == Comment.article_id)
        .where(Comment.id == comment_id, Article.slug == slug)
    )
    return _found(session.scalar(stmt), "Comment")


@cache
def _tags_statement() -> Select[Any]:
    """Tag names carried by at least one article."""
    in_use = exists().where(ArticleTag.tag_id == Tag.id)
    return select(Tag.name).where(in_use).order_by(Tag.name)


def tag_names(session: AnySession) -> list[str]:
    """Every tag carried by at least one article, once each, by name."""
    return [row[0] for row in session_rows(session, _tags_statement(), {})]


def read_statements(dialect_name: str) -> list[Select[Any]]:
    """Every statement the reads above run on this dialect, each shape built (and cached) now."""
    filters = tuple(FILTERS)  # in the order articles_page passes them
    chosen = [combo for size in range(len(filters) + 1) for combo in combinations(filters, size)]
    statements = [_feed_statement(dialect_name == "postgresql"), _tags_statement()]
    for signed_in in (False, True):
        statements += [_page_statement(signed_in, combo) for combo in chosen]
        statements += [
            _article_statement(signed_in),
            _profile_statement(signed_in),
            _comments_statement(signed_in),
        ]
    return statements


def ensure_available(
    session: AnySession, email: str | None, username: str | None, exclude_id: int | None = None
) -> None:
    """422 when another account has this email, or this username in any case (one query)."""
    key = username_key(username) if username is not None else None
    conditions = []
    if email is not None:
        conditions.append(User.email == email)
    if key is not None:
        conditions.append(User.username_key == key)
    if not conditions:
        return
    stmt = select(User.email, User.username_key).where(or_(*conditions))
    if exclude_id is not None:
        stmt = stmt.where(User.id != exclude_id)
    for taken_email, taken_key in session.execute(stmt.limit(2)):
        if taken_email == email:
            raise Unprocessable("has already been taken", "email")
        if taken_key == key:
            raise Unprocessable("has already been taken", "username")
