"""/api/v1/admin: table reports and the demo data set (admin role)."""

from __future__ import annotations

from flask.views import MethodView

from health_api.api.auth import require_role
from health_api.api.blueprint import Blueprint
from health_api.api.context import settings
from health_api.api.context import storage as store
from health_api.schemas.admin import SeedOut, TablesOut
from health_api.services import seed

blp = Blueprint(
    "admin",
    __name__,
    url_prefix="/api/v1/admin",
    description="Operations: table validation and demo data (admin only).",
)


@blp.route("/tables")
class Tables(MethodView):
    """The tables next to their specs."""

    @require_role("admin")
    @blp.response(200, TablesOut)
    def get(self):
        """Each table: name, exists, status and every difference from its spec (the report of
        ``setup_tables.py --validate --json``)."""
        reports = store().check_tables()
        return {"ok": all(r.ok for r in reports), "tables": [r.to_dict() for r in reports]}


@blp.route("/seed")
class Seed(MethodView):
    """The demo data set."""

    @require_role("admin")
    @blp.response(200, SeedOut)
    def post(self):
        """Load the demo doctors and two weeks of slots (idempotent: counts what was new)."""
        result = seed.load_demo(store(), settings().timezone)
        return {"doctors": result.doctors, "slots": result.slots}

    @require_role("admin")
    @blp.response(200, SeedOut)
    def delete(self):
        """Remove the demo data set (idempotent: counts what was removed)."""
        result = seed.remove_demo(store())
        return {"doctors": result.doctors, "slots": result.slots}
