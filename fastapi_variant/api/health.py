"""Probes for process managers and load balancers, outside /api: liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from ..deps import SessionDep
from ..routing import SafeRoute
from ..schemas import HealthOut

router = APIRouter(tags=["Health"], route_class=SafeRoute)


@router.get("/healthz")
def healthz() -> HealthOut:
    """The process is up and serving; the database is not consulted."""
    return HealthOut(status="ok")


@router.get("/readyz")
def readyz(session: SessionDep) -> HealthOut:
    """The database answers a trivial query; an outage raises and the handlers answer 503."""
    session.execute(text("SELECT 1"))
    return HealthOut(status="ok")
