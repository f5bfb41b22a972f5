"""Comments on an article: list, add, delete."""

from __future__ import annotations

from typing import Any

from webapp.core import queries
from webapp.core.models import Comment, User

from ..errors import Forbidden
from ..extensions import db
from ..schemas import CommentList, CommentResponse, NewCommentRequest
from . import Blueprint

blp = Blueprint("Comments", __name__, url_prefix="/api", description="Comments on an article.")

# Ids beyond PostgreSQL's integer range cannot exist; the router answers 404 for them.
COMMENT_ID = "<int(min=1, max=2147483647):comment_id>"


@blp.get("/articles/<slug:slug>/comments")
@blp.token_auth("reader_id")
@blp.response(200, CommentList)
@blp.errors(404)
def list_comments(reader_id: int | None, slug: str) -> dict[str, list[queries.CommentView]]:
    """The article's comments, oldest first; `author.following` is the reader's."""
    return {"comments": queries.comments_for_article(db.session, slug, reader_id)}


@blp.post("/articles/<slug:slug>/comments")
@blp.token_auth()
@blp.arguments(NewCommentRequest)
@blp.response(200, CommentResponse)
@blp.errors(404, 422, 429)
def add_comment(reader: User, payload: dict[str, Any], slug: str) -> dict[str, queries.CommentView]:
    """Comment on the article (the spec answers 200)."""
    article_id = queries.article_id_by_slug(db.session, slug)
    comment = Comment(body=payload["comment"]["body"], article_id=article_id, author_id=reader.id)
    db.session.add(comment)
    db.session.flush()
    written = queries.written_comment(comment, reader)
    db.session.commit()
    return {"comment": written}


@blp.delete(f"/articles/<slug:slug>/comments/{COMMENT_ID}")
@blp.token_auth()
@blp.response(204)
@blp.errors(403, 404, 429)
def delete_comment(reader: User, slug: str, comment_id: int) -> None:
    """Delete one's own comment; a comment of another article is 404."""
    comment = queries.comment_in_article(db.session, slug, comment_id)
    if comment.author_id != reader.id:
        raise Forbidden("Only the author can delete this comment.")
    db.session.delete(comment)
    db.session.commit()
