"""Articles: lists, the feed, one article, publishing, editing and deleting."""

from __future__ import annotations

from typing import Any

from webapp.core import queries
from webapp.core.models import Article, User, utcnow
from webapp.core.security import TokenClaims
from webapp.core.writes import new_slug, set_tags

from ..errors import Forbidden
from ..extensions import db
from ..schemas import (
    ArticleFilterArgsSchema,
    ArticlePage,
    ArticleResponse,
    NewArticleRequest,
    PageArgsSchema,
    UpdateArticleRequest,
)
from . import Blueprint

blp = Blueprint(
    "Articles",
    __name__,
    url_prefix="/api",
    description="Lists, the feed, one article, publishing, editing and deleting.",
)


def _page(page: queries.Page) -> dict[str, Any]:
    """The MultipleArticlesResponse envelope of a page."""
    return {"articles": page.items, "articlesCount": page.total}


@blp.get("/articles")
@blp.token_auth("reader_claims")
@blp.arguments(ArticleFilterArgsSchema, location="query", as_kwargs=True)
@blp.response(200, ArticlePage)
@blp.errors(422)
def list_articles(reader: TokenClaims | None, **args: Any) -> dict[str, Any]:
    """Newest articles first, filtered by tag, author and favorited (all exact, combinable)."""
    return _page(queries.articles_page(db.session, reader, **args))


@blp.get("/articles/feed")
@blp.token_auth("claims")
@blp.arguments(PageArgsSchema, location="query", as_kwargs=True)
@blp.response(200, ArticlePage)
@blp.errors(422)
def feed(reader: TokenClaims, **args: Any) -> dict[str, Any]:
    """Newest articles by authors the reader follows."""
    return _page(queries.feed_page(db.session, reader, **args))


@blp.post("/articles")
@blp.token_auth()
@blp.arguments(NewArticleRequest)
@blp.response(201, ArticleResponse)
@blp.errors(422, 429)
def create_article(reader: User, payload: dict[str, Any]) -> dict[str, queries.ArticleView]:
    """Publish an article; its slug comes from the title and is unique."""
    data = payload["article"]
    article = Article(
        slug=new_slug(data["title"]),
        title=data["title"],
        description=data["description"],
        body=data["body"],
        author_id=reader.id,
    )
    db.session.add(article)
    db.session.flush()
    set_tags(db.session, article.id, data["tag_list"], new=True)
    # Read in the write's transaction: after the commit, the read would need one of its own.
    created = queries.article_by_slug(db.session, article.slug, reader.id)
    db.session.commit()
    return {"article": created}


@blp.get("/articles/<slug:slug>")
@blp.token_auth("reader_id")
@blp.response(200, ArticleResponse)
@blp.errors(404)
def get_article(reader_id: int | None, slug: str) -> dict[str, queries.ArticleView]:
    """One article with its body."""
    return {"article": queries.article_by_slug(db.session, slug, reader_id)}


def _own_article(slug: str, reader_id: int) -> Article:
    """The article, if the reader wrote it: 404 when missing, 403 when someone else's."""
    article = queries.article_for_update(db.session, slug)
    if article.author_id != reader_id:
        raise Forbidden("Only the author can change this article.")
    return article


@blp.put("/articles/<slug:slug>")
@blp.token_auth()
@blp.arguments(UpdateArticleRequest)
@blp.response(200, ArticleResponse)
@blp.errors(403, 404, 422, 429)
def update_article(
    reader: User, payload: dict[str, Any], slug: str
) -> dict[str, queries.ArticleView]:
    """Change the author's article; a new title gives a new slug."""
    article = _own_article(slug, reader.id)
    data = payload["article"]
    if "title" in data and data["title"] != article.title:
        article.slug = new_slug(data["title"])
    for field in ("title", "description", "body"):
        if field in data:
            setattr(article, field, data[field])
    if "tag_list" in data:
        set_tags(db.session, article.id, data["tag_list"])
        # A tags-only edit is still an edit: bump updatedAt (onupdate fires only on column changes).
        article.updated_at = utcnow()
    updated = queries.article_by_slug(db.session, article.slug, reader.id)
    db.session.commit()
    return {"article": updated}


@blp.delete("/articles/<slug:slug>")
@blp.token_auth()
@blp.response(204)
@blp.errors(403, 404, 429)
def delete_article(reader: User, slug: str) -> None:
    """Delete the author's article; its comments, favorites and tag links go with it."""
    article = _own_article(slug, reader.id)
    # Core DELETE: the database's ON DELETE CASCADE removes comments, favorites and tag links.
    db.session.execute(db.delete(Article).filter_by(id=article.id))
    db.session.commit()
