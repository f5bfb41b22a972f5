"""Comments on an article: list, add, delete."""

from __future__ import annotations

from typing import Any

from .. import auth, queries
from ..errors import Forbidden
from ..extensions import db
from ..models import Comment
from ..schemas import CommentList, CommentResponse, NewCommentRequest
from . import Blueprint

blp = Blueprint(
    "comments", __name__, url_prefix="/api", tag="Comments", description="Comments on an article."
)

# Ids beyond PostgreSQL's integer range cannot exist; the router answers 404 for them.
COMMENT_ID = "<int(min=1, max=2147483647):comment_id>"


@blp.get("/articles/<slug>/comments")
@blp.response(200, CommentList)
@blp.errors(401, 404)
@blp.token_auth(optional=True)
def list_comments(slug: str) -> dict[str, list[queries.CommentView]]:
    """The article's comments, oldest first; `author.following` is the reader's."""
    return {"comments": queries.comments_for_article(slug, auth.reader_id())}


@blp.post("/articles/<slug>/comments")
@blp.arguments(NewCommentRequest)
@blp.response(200, CommentResponse)
@blp.errors(401, 404, 422)
@blp.token_auth()
def add_comment(payload: dict[str, Any], slug: str) -> dict[str, queries.CommentView]:
    """Comment on the article (the spec answers 200)."""
    reader = auth.require_user()
    article_id = queries.article_id_by_slug(slug)
    comment = Comment(body=payload["comment"]["body"], article_id=article_id, author_id=reader.id)
    db.session.add(comment)
    db.session.flush()
    written = queries.written_comment(comment, reader)
    db.session.commit()
    return {"comment": written}


@blp.delete(f"/articles/<slug>/comments/{COMMENT_ID}")
@blp.response(204)
@blp.errors(401, 403, 404)
@blp.token_auth()
def delete_comment(slug: str, comment_id: int) -> None:
    """Delete one's own comment; a comment of another article is 404."""
    reader = auth.require_user()
    comment = queries.comment_in_article(slug, comment_id)
    if comment.author_id != reader.id:
        raise Forbidden("Only the author can delete this comment.")
    db.session.delete(comment)
    db.session.commit()
