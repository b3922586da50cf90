"""/api/v1/holds: keep a slot for one user for a few minutes, read the hold, release it."""

from __future__ import annotations

from flask import url_for
from flask.views import MethodView

from health_api.api.auth import user_data
from health_api.api.blueprint import Blueprint
from health_api.api.context import caller, instant, secret, settings, slot_key
from health_api.api.context import storage as store
from health_api.api.views import hold_dict
from health_api.domain.caller import APPOINTMENTS
from health_api.schemas.common import Problem
from health_api.schemas.holds import HoldIn, HoldOut
from health_api.services import holds

blp = Blueprint(
    "holds",
    __name__,
    url_prefix="/api/v1/holds",
    description="Holds: a slot kept ``retenido`` for one user until ``expires_at``.",
)


@blp.route("")
class Holds(MethodView):
    """Holds of slots."""

    @user_data(APPOINTMENTS)
    @blp.arguments(HoldIn)
    @blp.response(201, HoldOut, description="Held; ``Location`` names the hold.")
    @blp.alt_response(
        200, schema=HoldOut, description="This user's hold is still live: the same hold."
    )
    @blp.alt_response(
        404,
        schema=Problem,
        description="``/problems/doctor-not-found``: no such doctor; ``/problems/not-found``: "
        "the doctor has no slot at that time.",
    )
    @blp.alt_response(
        409,
        schema=Problem,
        description="``/problems/slot-taken`` (booked by someone, or held live by another "
        "user; with ``alternativas``), ``/problems/already-booked`` (this user booked it) or "
        "``/problems/hold-limit`` (the user already has ``HOLD_MAX_PER_USER`` live holds).",
    )
    @blp.alt_response(
        422,
        schema=Problem,
        description="A past or ``bloqueado`` slot, or ``ttl_seconds`` outside 30-1800.",
    )
    def post(self, body):
        """Hold a slot for a user (default ``HOLD_TTL_SECONDS``, never past the slot's start);
        one write call. The same user again while the hold lives gets it back (200, expiry
        unchanged)."""
        key = slot_key(body["doctor_id"], instant(body["fecha_hora"], "fecha_hora", status=422))
        issued = holds.hold_slot(
            store(),
            secret(),
            key,
            body.get("user_id"),
            body["ttl_seconds"],
            settings(),
            caller=caller(),
        )
        data = hold_dict(issued.hold_id, issued.hold, caller())
        if not issued.created:
            return data, 200
        location = url_for("holds.Hold", hold_id=issued.hold_id)
        return data, 201, {"Location": location}


@blp.route("/<hold_id>")
class Hold(MethodView):
    """One hold."""

    @user_data(APPOINTMENTS)
    @blp.response(200, HoldOut)
    def get(self, hold_id):
        """The live hold; 404 once it expired, was released or consumed by a booking, and for
        an edited or foreign id."""
        hold = holds.get_hold(store(), secret(), hold_id, caller=caller())
        return hold_dict(hold_id, hold, caller())

    @user_data(APPOINTMENTS)
    @blp.response(204)
    def delete(self, hold_id):
        """Release the hold: the slot is ``disponible`` again if this hold still held it; a
        hold already gone is a 204 too; an edited or foreign id is a 404."""
        holds.release_hold(store(), secret(), hold_id, caller=caller())
