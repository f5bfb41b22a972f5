"""Profiles: read one, follow and unfollow."""

from __future__ import annotations

from conduit_core import queries
from conduit_core.models import Follow, User
from conduit_core.writes import insert_ignore

from .. import auth
from ..errors import Unprocessable
from ..extensions import db
from ..schemas import ProfileResponse
from . import Blueprint

blp = Blueprint(
    "profiles",
    __name__,
    url_prefix="/api",
    tag="Profile",
    description="Public profiles and following.",
)


@blp.get("/profiles/<username>")
@blp.response(200, ProfileResponse)
@blp.errors(401, 404)
@blp.token_auth(optional=True)
def get_profile(username: str) -> dict[str, User]:
    """A user's profile; `following` is true only for a reader who follows them."""
    return {"profile": queries.profile_by_username(db.session, username, auth.reader_id())}


@blp.post("/profiles/<username>/follow")
@blp.response(200, ProfileResponse)
@blp.errors(401, 404, 422)
@blp.token_auth()
def follow(username: str) -> dict[str, User]:
    """Follow a user; following again changes nothing."""
    reader = auth.require_user()
    target = queries.user_by_username(db.session, username)
    if target.id == reader.id:
        raise Unprocessable("You cannot follow yourself.")
    insert_ignore(db.session, Follow, [{"follower_id": reader.id, "followed_id": target.id}])
    db.session.commit()
    return {"profile": queries.profile_by_username(db.session, username, reader.id)}


@blp.delete("/profiles/<username>/follow")
@blp.response(200, ProfileResponse)
@blp.errors(401, 404)
@blp.token_auth()
def unfollow(username: str) -> dict[str, User]:
    """Stop following a user; unfollowing again changes nothing."""
    reader = auth.require_user()
    target = queries.user_by_username(db.session, username)
    db.session.execute(db.delete(Follow).filter_by(follower_id=reader.id, followed_id=target.id))
    db.session.commit()
    return {"profile": queries.profile_by_username(db.session, username, reader.id)}
