"""Service endpoints that need no key: liveness and readiness.

``/readyz`` asks the storage's ``check_ready()``: on DynamoDB one data-plane read of every served
table per probe and a DescribeTable cached 10 s at most, never ``ListTagsOfResource`` (10 calls/s
per account, shared by every pod). It names a wrong table but not its key attribute names; the
full report with keys, TTL and tags is ``/api/v1/admin/tables``.
"""

from __future__ import annotations

import threading
import time

from flask.views import MethodView

from health_api.api.blueprint import Blueprint
from health_api.api.context import storage as store
from health_api.api.kernel import state
from health_api.api.problems import problem
from health_api.schemas.admin import Health
from health_api.services import readiness

blp = Blueprint("service", __name__, description="Liveness and readiness (no key needed).")

READY_CACHE_SECONDS = 5.0  # with the storage's own checks, a missing table shows within 10 s
_lock = threading.Lock()


@blp.route("/healthz")
class Liveness(MethodView):
    """Is the process alive?"""

    @blp.response(200, Health)
    def get(self):
        """200 ``{"status": "ok"}``; touches no storage."""
        return {"status": "ok"}


@blp.route("/readyz")
class Readiness(MethodView):
    """Can the process serve?"""

    @blp.response(200, Health)
    def get(self):
        """200 when the storage answers and every table matches its spec (keys, indexes,
        status, billing; TTL and tags are in ``/api/v1/admin/tables``), else 503 with
        ``Retry-After`` and what is wrong. The answer is kept for a few seconds so that a burst
        of probes (no key needed) costs one storage read."""
        cache = state().ready
        with _lock:
            if time.monotonic() - cache.get("at", -1e9) > READY_CACHE_SECONDS:
                cache["result"] = _check()
                cache["at"] = time.monotonic()
            ready = cache["result"]
        if ready.ok:
            return {"status": "ready", "tables": ready.tables}
        return problem(
            503,
            ready.detail,
            kind="not-ready",
            headers={"Retry-After": "5"},
            tables=ready.tables or [],
        )


def _check() -> readiness.Readiness:
    try:
        return readiness.check_readiness(store())
    finally:
        store().release()
