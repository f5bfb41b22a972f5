"""Articles: lists, the feed, one article, publishing, editing, deleting and favorites."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import delete
from sqlalchemy.orm import Session

from webapp.core import queries
from webapp.core.errors import Forbidden, NotFound
from webapp.core.models import Article, Favorite, utcnow
from webapp.core.writes import insert_ignore, new_slug, set_tags

from ..deps import CurrentUser, ReaderClaims, ReaderId, RequiredClaims, SessionDep
from ..routing import SafeRoute
from ..schemas import (
    MAX_OFFSET,
    ArticleEnvelope,
    ArticleListItem,
    ArticleOut,
    ArticlePage,
    NewArticle,
    TagName,
    UpdateArticle,
    Username,
)

router = APIRouter(tags=["Articles"], route_class=SafeRoute)

Limit = Annotated[int, Query(ge=1, le=100)]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]
_USERNAME = TypeAdapter(Username)
# A slug as webapp.core.writes.new_slug makes it (the Flask app's slug converter): slugified title
# words and a 12-hex-digit suffix, or the suffix alone; never one word, so "feed" is no slug.
SLUG = re.compile(r"(?:[a-z0-9]+(?:-[a-z0-9]+)+|[0-9a-f]{12})")


async def article_slug(
    slug: Annotated[str, Path(json_schema_extra={"pattern": f"^{SLUG.pattern}$"})],
) -> str:
    """The path's slug; anything new_slug cannot make names no article (404, as no route)."""
    if not SLUG.fullmatch(slug):
        raise NotFound("Article not found.")
    return slug


Slug = Annotated[str, Depends(article_slug)]


def username_filter(value: str | None) -> str | None:
    """A username to filter by: any string; one no username can have matches nothing."""
    if value is None:
        return None
    try:
        return _USERNAME.validate_python(value)
    except ValidationError:
        return ""  # no account has the empty username; this also keeps NUL away from PostgreSQL


def _page(page: queries.Page) -> ArticlePage[ArticleListItem]:
    """The MultipleArticlesResponse envelope of a page."""
    items = [ArticleListItem.model_validate(view) for view in page.items]
    return ArticlePage[ArticleListItem](articles=items, articles_count=page.total)


def _article(session: Session, slug: str, reader_id: int | None) -> ArticleEnvelope[ArticleOut]:
    """The SingleArticleResponse envelope of one article as the reader sees it."""
    view = queries.article_by_slug(session, slug, reader_id)
    return ArticleEnvelope[ArticleOut](article=ArticleOut.model_validate(view))


@router.get("/articles")
def list_articles(
    session: SessionDep,
    reader: ReaderClaims,
    tag: Annotated[TagName | None, Query()] = None,
    author: Annotated[str | None, Query()] = None,
    favorited: Annotated[str | None, Query()] = None,
    limit: Limit = 20,
    offset: Offset = 0,
) -> ArticlePage[ArticleListItem]:
    """Newest articles first, filtered by tag, author and favorited (all exact, combinable)."""
    page = queries.articles_page(
        session,
        reader,
        limit=limit,
        offset=offset,
        tag=tag,
        author=username_filter(author),
        favorited=username_filter(favorited),
    )
    return _page(page)


@router.get("/articles/feed")
def feed(
    session: SessionDep, reader: RequiredClaims, limit: Limit = 20, offset: Offset = 0
) -> ArticlePage[ArticleListItem]:
    """Newest articles by authors the reader follows."""
    return _page(queries.feed_page(session, reader, limit=limit, offset=offset))


@router.post("/articles", status_code=201)
def create_article(
    payload: ArticleEnvelope[NewArticle], reader: CurrentUser, session: SessionDep
) -> ArticleEnvelope[ArticleOut]:
    """Publish an article; its slug comes from the title and is unique."""
    data = payload.article
    article = Article(
        slug=new_slug(data.title),
        title=data.title,
        description=data.description,
        body=data.body,
        author_id=reader.id,
    )
    session.add(article)
    session.flush()
    set_tags(session, article.id, data.tag_list, new=True)
    session.commit()
    return _article(session, article.slug, reader.id)


@router.get("/articles/{slug}")
def get_article(
    slug: Slug, session: SessionDep, reader_id: ReaderId
) -> ArticleEnvelope[ArticleOut]:
    """One article with its body."""
    return _article(session, slug, reader_id)


def _own_article(session: Session, slug: str, reader_id: int) -> Article:
    """The article, if the reader wrote it: 404 when missing, 403 when someone else's."""
    article = queries.article_for_update(session, slug)
    if article.author_id != reader_id:
        raise Forbidden("Only the author can change this article.")
    return article


@router.put("/articles/{slug}")
def update_article(
    slug: Slug, payload: ArticleEnvelope[UpdateArticle], reader: CurrentUser, session: SessionDep
) -> ArticleEnvelope[ArticleOut]:
    """Change the author's article; a new title gives a new slug."""
    article = _own_article(session, slug, reader.id)
    data = payload.article
    if data.title is not None and data.title != article.title:
        article.slug = new_slug(data.title)
    if data.title is not None:
        article.title = data.title
    if data.description is not None:
        article.description = data.description
    if data.body is not None:
        article.body = data.body
    if data.tag_list is not None:
        set_tags(session, article.id, data.tag_list)
        # A tags-only edit is still an edit: bump updatedAt (onupdate fires only on column changes).
        article.updated_at = utcnow()
    session.commit()
    return _article(session, article.slug, reader.id)


@router.delete("/articles/{slug}", status_code=204)
def delete_article(slug: Slug, reader: CurrentUser, session: SessionDep) -> Response:
    """Delete the author's article; its comments, favorites and tag links go with it."""
    article = _own_article(session, slug, reader.id)
    # Core DELETE: the database's ON DELETE CASCADE removes comments, favorites and tag links.
    session.execute(delete(Article).filter_by(id=article.id))
    session.commit()
    return Response(status_code=204)


@router.post("/articles/{slug}/favorite", tags=["Favorites"])
def favorite(slug: Slug, reader: CurrentUser, session: SessionDep) -> ArticleEnvelope[ArticleOut]:
    """Favorite the article; favoriting again changes nothing."""
    article_id = queries.article_id_by_slug(session, slug)
    insert_ignore(session, Favorite, [{"user_id": reader.id, "article_id": article_id}])
    session.commit()
    return _article(session, slug, reader.id)


@router.delete("/articles/{slug}/favorite", tags=["Favorites"])
def unfavorite(slug: Slug, reader: CurrentUser, session: SessionDep) -> ArticleEnvelope[ArticleOut]:
    """Remove the reader's favorite; removing it again changes nothing."""
    article_id = queries.article_id_by_slug(session, slug)
    session.execute(delete(Favorite).filter_by(user_id=reader.id, article_id=article_id))
    session.commit()
    return _article(session, slug, reader.id)
