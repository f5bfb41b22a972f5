"""Articles: lists, the feed, one article, publishing, editing, deleting and favorites."""

from __future__ import annotations

from typing import Any

from conduit_core import queries
from conduit_core.models import Article, Favorite, utcnow
from conduit_core.writes import insert_ignore, new_slug, set_tags

from .. import auth
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
    "articles",
    __name__,
    url_prefix="/api",
    tag="Articles",
    description="Lists, the feed, one article, publishing, editing and deleting.",
)


def _page(page: queries.Page) -> dict[str, Any]:
    """The MultipleArticlesResponse envelope of a page."""
    return {"articles": page.items, "articlesCount": page.total}


@blp.get("/articles")
@blp.arguments(ArticleFilterArgsSchema, location="query", as_kwargs=True)
@blp.response(200, ArticlePage)
@blp.errors(401, 422)
@blp.token_auth(optional=True)
def list_articles(**args: Any) -> dict[str, Any]:
    """Newest articles first, filtered by tag, author and favorited (all exact, combinable)."""
    return _page(queries.articles_page(db.session, auth.reader_id(), **args))


@blp.get("/articles/feed")
@blp.arguments(PageArgsSchema, location="query", as_kwargs=True)
@blp.response(200, ArticlePage)
@blp.errors(401, 422)
@blp.token_auth()
def feed(**args: Any) -> dict[str, Any]:
    """Newest articles by authors the reader follows."""
    return _page(queries.feed_page(db.session, auth.require_user_id(), **args))


@blp.post("/articles")
@blp.arguments(NewArticleRequest)
@blp.response(201, ArticleResponse)
@blp.errors(401, 422)
@blp.token_auth()
def create_article(payload: dict[str, Any]) -> dict[str, queries.ArticleView]:
    """Publish an article; its slug comes from the title and is unique."""
    reader = auth.require_user()
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
    set_tags(db.session, article.id, data["tag_list"])
    db.session.commit()
    return {"article": queries.article_by_slug(db.session, article.slug, reader.id)}


@blp.get("/articles/<slug>")
@blp.response(200, ArticleResponse)
@blp.errors(401, 404)
@blp.token_auth(optional=True)
def get_article(slug: str) -> dict[str, queries.ArticleView]:
    """One article with its body."""
    return {"article": queries.article_by_slug(db.session, slug, auth.reader_id())}


def _own_article(slug: str, reader_id: int) -> Article:
    """The article, if the reader wrote it: 404 when missing, 403 when someone else's."""
    article = queries.article_for_update(db.session, slug)
    if article.author_id != reader_id:
        raise Forbidden("Only the author can change this article.")
    return article


@blp.put("/articles/<slug>")
@blp.arguments(UpdateArticleRequest)
@blp.response(200, ArticleResponse)
@blp.errors(401, 403, 404, 422)
@blp.token_auth()
def update_article(payload: dict[str, Any], slug: str) -> dict[str, queries.ArticleView]:
    """Change the author's article; a new title gives a new slug."""
    reader = auth.require_user()
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
    db.session.commit()
    return {"article": queries.article_by_slug(db.session, article.slug, reader.id)}


@blp.delete("/articles/<slug>")
@blp.response(204)
@blp.errors(401, 403, 404)
@blp.token_auth()
def delete_article(slug: str) -> None:
    """Delete the author's article; its comments, favorites and tag links go with it."""
    reader = auth.require_user()
    article = _own_article(slug, reader.id)
    # Core DELETE: the database's ON DELETE CASCADE removes comments, favorites and tag links.
    db.session.execute(db.delete(Article).filter_by(id=article.id))
    db.session.commit()


@blp.post("/articles/<slug>/favorite", tags=["Favorites"])
@blp.response(200, ArticleResponse)
@blp.errors(401, 404)
@blp.token_auth()
def favorite(slug: str) -> dict[str, queries.ArticleView]:
    """Favorite the article; favoriting again changes nothing."""
    reader = auth.require_user()
    insert_ignore(
        db.session,
        Favorite,
        [{"user_id": reader.id, "article_id": queries.article_id_by_slug(db.session, slug)}],
    )
    db.session.commit()
    return {"article": queries.article_by_slug(db.session, slug, reader.id)}


@blp.delete("/articles/<slug>/favorite", tags=["Favorites"])
@blp.response(200, ArticleResponse)
@blp.errors(401, 404)
@blp.token_auth()
def unfavorite(slug: str) -> dict[str, queries.ArticleView]:
    """Remove the reader's favorite; removing it again changes nothing."""
    reader = auth.require_user()
    article_id = queries.article_id_by_slug(db.session, slug)
    db.session.execute(db.delete(Favorite).filter_by(user_id=reader.id, article_id=article_id))
    db.session.commit()
    return {"article": queries.article_by_slug(db.session, slug, reader.id)}
