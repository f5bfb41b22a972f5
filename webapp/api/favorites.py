"""Favorites: a reader marks an article, or takes the mark back."""

from __future__ import annotations

from webapp.core import queries
from webapp.core.models import Favorite, User
from webapp.core.writes import insert_ignore

from ..extensions import db
from ..schemas import ArticleResponse
from . import Blueprint

blp = Blueprint(
    "Favorites", __name__, url_prefix="/api", description="Favoriting and unfavoriting articles."
)


@blp.post("/articles/<slug:slug>/favorite")
@blp.token_auth()
@blp.response(200, ArticleResponse)
@blp.errors(404, 429)
def favorite(reader: User, slug: str) -> dict[str, queries.ArticleView]:
    """Favorite the article; favoriting again changes nothing."""
    insert_ignore(
        db.session,
        Favorite,
        [{"user_id": reader.id, "article_id": queries.article_id_by_slug(db.session, slug)}],
    )
    article = queries.article_by_slug(db.session, slug, reader.id)
    db.session.commit()
    return {"article": article}


@blp.delete("/articles/<slug:slug>/favorite")
@blp.token_auth()
@blp.response(200, ArticleResponse)
@blp.errors(404, 429)
def unfavorite(reader: User, slug: str) -> dict[str, queries.ArticleView]:
    """Remove the reader's favorite; removing it again changes nothing."""
    article_id = queries.article_id_by_slug(db.session, slug)
    db.session.execute(db.delete(Favorite).filter_by(user_id=reader.id, article_id=article_id))
    article = queries.article_by_slug(db.session, slug, reader.id)
    db.session.commit()
    return {"article": article}
