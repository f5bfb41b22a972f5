"""Tags in use."""

from __future__ import annotations

from fastapi import APIRouter

from webapp.core import queries

from ..deps import SessionDep
from ..routing import SafeRoute
from ..schemas import TagsOut

router = APIRouter(tags=["Tags"], route_class=SafeRoute)


@router.get("/tags")
def list_tags(session: SessionDep) -> TagsOut:
    """Every tag carried by at least one article, once each."""
    return TagsOut(tags=queries.tag_names(session))
