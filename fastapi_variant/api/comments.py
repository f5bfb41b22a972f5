"""Comments on an article: list, add, delete."""

from __future__ import annotations

from fastapi import APIRouter, Response

from webapp.core import queries
from webapp.core.errors import Forbidden, NotFound
from webapp.core.models import Comment

from ..deps import CurrentUser, ReaderId, SessionDep
from ..routing import SafeRoute
from ..schemas import CommentEnvelope, CommentList, CommentOut, NewComment
from .articles import Slug

router = APIRouter(tags=["Comments"], route_class=SafeRoute)

# Ids beyond PostgreSQL's integer range cannot exist.
MAX_ID = 2**31 - 1


@router.get("/articles/{slug}/comments")
def list_comments(slug: Slug, session: SessionDep, reader_id: ReaderId) -> CommentList[CommentOut]:
    """The article's comments, oldest first; `author.following` is the reader's."""
    comments = queries.comments_for_article(session, slug, reader_id)
    return CommentList[CommentOut](comments=[CommentOut.model_validate(c) for c in comments])


@router.post("/articles/{slug}/comments")
def add_comment(
    slug: Slug, payload: CommentEnvelope[NewComment], reader: CurrentUser, session: SessionDep
) -> CommentEnvelope[CommentOut]:
    """Comment on the article (the spec answers 200)."""
    article_id = queries.article_id_by_slug(session, slug)
    comment = Comment(body=payload.comment.body, article_id=article_id, author_id=reader.id)
    session.add(comment)
    session.flush()
    written = queries.written_comment(comment, reader)
    session.commit()
    return CommentEnvelope[CommentOut](comment=CommentOut.model_validate(written))


@router.delete("/articles/{slug}/comments/{comment_id}", status_code=204)
def delete_comment(
    slug: Slug, comment_id: str, reader: CurrentUser, session: SessionDep
) -> Response:
    """Delete one's own comment; a comment of another article is 404."""
    # Like the Flask app's int(min=1) route converter: an id that cannot exist is no route (404).
    if not (comment_id.isascii() and comment_id.isdigit()) or not 1 <= int(comment_id) <= MAX_ID:
        raise NotFound("Comment not found.")
    comment = queries.comment_in_article(session, slug, int(comment_id))
    if comment.author_id != reader.id:
        raise Forbidden("Only the author can delete this comment.")
    session.delete(comment)
    session.commit()
    return Response(status_code=204)
