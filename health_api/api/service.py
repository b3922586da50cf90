"""Service endpoints that touch no patient data: liveness."""

from __future__ import annotations

from flask import Blueprint

blueprint = Blueprint("service", __name__)


@blueprint.get("/healthz")
def healthz() -> tuple[dict[str, str], int]:
    """Liveness: answers without touching storage."""
    return {"status": "ok"}, 200
