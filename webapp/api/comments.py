"""Comments on an article: list, add, delete."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from conduit_core import queries
from conduit_core.models import Comment

from .. import auth
from ..errors import Forbidden
from ..extensions import db
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
def list_comments(slug: str) -> dict[str, Sequence[Comment]]:
    """The article's comments, oldest first; `author.following` is the reader's."""
    return {"comments": queries.comments_for_article(db.session, slug, auth.reader_id())}


@blp.post("/articles/<slug>/comments")
@blp.arguments(NewCommentRequest)
@blp.response(200, CommentResponse)
@blp.errors(401, 404, 422)
@blp.token_auth()
def add_comment(payload: dict[str, Any], slug: str) -> dict[str, Comment]:
    """Comment on the article (the spec answers 200)."""
    reader = auth.require_user()
    comment = Comment(
        body=payload["comment"]["body"],
        article_id=queries.article_id_by_slug(db.session, slug),
        author=reader,
    )
    db.session.add(comment)
    db.session.commit()
    return {"comment": comment}


@blp.delete(f"/articles/<slug>/comments/{COMMENT_ID}")
@blp.response(204)
@blp.errors(401, 403, 404)
@blp.token_auth()
def delete_comment(slug: str, comment_id: int) -> None:
    """Delete one's own comment; a comment of another article is 404."""
    reader = auth.require_user()
    comment = queries.comment_in_article(db.session, slug, comment_id)
    if comment.author_id != reader.id:
        raise Forbidden("Only the author can delete this comment.")
    db.session.delete(comment)
    db.session.commit()
