"""Comments on an article: list, add, delete."""

from __future__ import annotations

from fastapi import APIRouter, Response

from conduit_core import queries
from conduit_core.errors import Forbidden, NotFound
from conduit_core.models import Comment

from ..deps import CurrentUser, ReaderId, SessionDep
from ..schemas import CommentEnvelope, CommentList, CommentOut, NewComment

router = APIRouter(tags=["Comments"])

# Ids beyond PostgreSQL's integer range cannot exist.
MAX_ID = 2**31 - 1


@router.get("/articles/{slug}/comments")
def list_comments(slug: str, session: SessionDep, reader_id: ReaderId) -> CommentList[CommentOut]:
    """The article's comments, oldest first; `author.following` is the reader's."""
    comments = queries.comments_for_article(session, slug, reader_id)
    return CommentList[CommentOut](comments=[CommentOut.model_validate(c) for c in comments])


@router.post("/articles/{slug}/comments")
def add_comment(
    slug: str, payload: CommentEnvelope[NewComment], reader: CurrentUser, session: SessionDep
) -> CommentEnvelope[CommentOut]:
    """Comment on the article (the spec answers 200)."""
    comment = Comment(
        body=payload.comment.body,
        article_id=queries.article_id_by_slug(session, slug),
        author=reader,
    )
    session.add(comment)
    session.commit()
    return CommentEnvelope[CommentOut](comment=CommentOut.model_validate(comment))


@router.delete("/articles/{slug}/comments/{comment_id}", status_code=204)
def delete_comment(
    slug: str, comment_id: str, reader: CurrentUser, session: SessionDep
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
