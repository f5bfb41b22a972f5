"""Tags in use."""

from __future__ import annotations

from webapp.core import queries

from ..extensions import db
from ..schemas import TagList
from . import Blueprint

blp = Blueprint("Tags", __name__, url_prefix="/api", description="Tags in use.")


@blp.get("/tags")
@blp.response(200, TagList)
def list_tags() -> dict[str, list[str]]:
    """Every tag carried by at least one article, once each."""
    return {"tags": queries.tag_names(db.session)}
