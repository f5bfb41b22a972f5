"""Profiles: read one, follow and unfollow."""

from __future__ import annotations

from webapp.core import queries
from webapp.core.models import Follow, User
from webapp.core.writes import insert_ignore

from ..errors import Unprocessable
from ..extensions import db
from ..schemas import ProfileResponse
from . import Blueprint

blp = Blueprint(
    "Profile", __name__, url_prefix="/api", description="Public profiles and following."
)


@blp.get("/profiles/<username>")
@blp.token_auth("reader_id")
@blp.response(200, ProfileResponse)
@blp.errors(404)
def get_profile(reader_id: int | None, username: str) -> dict[str, queries.ProfileView]:
    """A user's profile; `following` is true only for a reader who follows them."""
    return {"profile": queries.profile_by_username(db.session, username, reader_id)}


@blp.post("/profiles/<username>/follow")
@blp.token_auth()
@blp.response(200, ProfileResponse)
@blp.errors(404, 422, 429)
def follow(reader: User, username: str) -> dict[str, queries.ProfileView]:
    """Follow a user; following again changes nothing."""
    target_id = queries.user_id_by_username(db.session, username)
    if target_id == reader.id:
        raise Unprocessable("You cannot follow yourself.")
    insert_ignore(db.session, Follow, [{"follower_id": reader.id, "followed_id": target_id}])
    profile = queries.profile_by_username(db.session, username, reader.id)
    db.session.commit()
    return {"profile": profile}


@blp.delete("/profiles/<username>/follow")
@blp.token_auth()
@blp.response(200, ProfileResponse)
@blp.errors(404, 429)
def unfollow(reader: User, username: str) -> dict[str, queries.ProfileView]:
    """Stop following a user; unfollowing again changes nothing."""
    target_id = queries.user_id_by_username(db.session, username)
    db.session.execute(db.delete(Follow).filter_by(follower_id=reader.id, followed_id=target_id))
    profile = queries.profile_by_username(db.session, username, reader.id)
    db.session.commit()
    return {"profile": profile}
