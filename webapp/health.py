"""Probes for process managers and load balancers, outside /api: liveness and readiness."""

from __future__ import annotations

from sqlalchemy import text

from .api import Blueprint
from .extensions import db
from .schemas import HealthSchema

blp = Blueprint("Health", __name__, description="Liveness and readiness probes.")

OK = {"status": "ok"}


@blp.get("/healthz")
@blp.response(200, HealthSchema)
def healthz() -> dict[str, str]:
    """The process is up and serving; the database is not consulted."""
    return OK


@blp.get("/readyz")
@blp.response(200, HealthSchema)
@blp.errors(503)
def readyz() -> dict[str, str]:
    """The database answers a trivial query; an outage raises and the error layer answers 503."""
    db.session.execute(text("SELECT 1"))
    return OK
