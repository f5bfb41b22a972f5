"""Profiles: read one, follow and unfollow."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import delete

from webapp.core import queries
from webapp.core.errors import Unprocessable
from webapp.core.models import Follow
from webapp.core.writes import insert_ignore

from ..deps import CurrentUser, ReaderId, SessionDep
from ..routing import SafeRoute
from ..schemas import ProfileEnvelope, ProfileOut

router = APIRouter(tags=["Profile"], route_class=SafeRoute)


def _profile(
    session: SessionDep, username: str, reader_id: int | None
) -> ProfileEnvelope[ProfileOut]:
    """The profile envelope as the reader sees it."""
    user = queries.profile_by_username(session, username, reader_id)
    return ProfileEnvelope[ProfileOut](profile=ProfileOut.model_validate(user))


@router.get("/profiles/{username}")
def get_profile(
    username: str, session: SessionDep, reader_id: ReaderId
) -> ProfileEnvelope[ProfileOut]:
    """A user's profile; `following` is true only for a reader who follows them."""
    return _profile(session, username, reader_id)


@router.post("/profiles/{username}/follow")
def follow(username: str, reader: CurrentUser, session: SessionDep) -> ProfileEnvelope[ProfileOut]:
    """Follow a user; following again changes nothing."""
    target_id = queries.user_id_by_username(session, username)
    if target_id == reader.id:
        raise Unprocessable("You cannot follow yourself.")
    insert_ignore(session, Follow, [{"follower_id": reader.id, "followed_id": target_id}])
    session.commit()
    return _profile(session, username, reader.id)


@router.delete("/profiles/{username}/follow")
def unfollow(
    username: str, reader: CurrentUser, session: SessionDep
) -> ProfileEnvelope[ProfileOut]:
    """Stop following a user; unfollowing again changes nothing."""
    target_id = queries.user_id_by_username(session, username)
    session.execute(delete(Follow).filter_by(follower_id=reader.id, followed_id=target_id))
    session.commit()
    return _profile(session, username, reader.id)
