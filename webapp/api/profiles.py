"""Profiles: read one, follow and unfollow."""

from __future__ import annotations

from .. import auth, queries
from ..errors import Unprocessable
from ..extensions import db
from ..models import Follow
from ..schemas import ProfileResponse
from ..writes import insert_ignore
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
def get_profile(username: str) -> dict[str, queries.ProfileView]:
    """A user's profile; `following` is true only for a reader who follows them."""
    return {"profile": queries.profile_by_username(username, auth.reader_id())}


@blp.post("/profiles/<username>/follow")
@blp.response(200, ProfileResponse)
@blp.errors(401, 404, 422)
@blp.token_auth()
def follow(username: str) -> dict[str, queries.ProfileView]:
    """Follow a user; following again changes nothing."""
    reader = auth.require_user()
    target_id = queries.user_id_by_username(username)
    if target_id == reader.id:
        raise Unprocessable("You cannot follow yourself.")
    insert_ignore(Follow, [{"follower_id": reader.id, "followed_id": target_id}])
    db.session.commit()
    return {"profile": queries.profile_by_username(username, reader.id)}


@blp.delete("/profiles/<username>/follow")
@blp.response(200, ProfileResponse)
@blp.errors(401, 404)
@blp.token_auth()
def unfollow(username: str) -> dict[str, queries.ProfileView]:
    """Stop following a user; unfollowing again changes nothing."""
    reader = auth.require_user()
    target_id = queries.user_id_by_username(username)
    db.session.execute(db.delete(Follow).filter_by(follower_id=reader.id, followed_id=target_id))
    db.session.commit()
    return {"profile": queries.profile_by_username(username, reader.id)}
