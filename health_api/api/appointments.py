"""Reschedule, a user's appointments, and availability across a specialty."""

from __future__ import annotations

from flask.views import MethodView

from health_api.api.auth import user_data
from health_api.api.blueprint import Blueprint
from health_api.api.context import ParameterError, bound, caller, check_path_id, instant
from health_api.api.context import storage as store
from health_api.api.cursors import verify
from health_api.api.views import clinic_zone, page_dict, slot_dict, slot_for
from health_api.domain.caller import APPOINTMENTS
from health_api.domain.errors import InvalidRequestError
from health_api.domain.models import SlotKey
from health_api.schemas.common import Problem, SlotFull, SlotPage
from health_api.schemas.schedules import (
    AppointmentQuery,
    AvailabilityQuery,
    FreeSlotPage,
    RescheduleIn,
)
from health_api.services import availability, booking

blp = Blueprint(
    "appointments",
    __name__,
    url_prefix="/api/v1",
    description="Rescheduling, a user's appointments, and availability.",
)


@blp.route("/appointments/reschedule")
class Reschedule(MethodView):
    """Move a booking."""

    @user_data(APPOINTMENTS)
    @blp.arguments(RescheduleIn)
    @blp.response(200, SlotFull)
    @blp.alt_response(409, schema=Problem, description="Nothing changed; ``reason`` says why.")
    def post(self, body):
        """Move the user's booking all or nothing (one transaction)."""
        source = SlotKey(
            body["from_"]["doctor_id"],
            instant(body["from_"]["fecha_hora"], "from.fecha_hora", status=422),
        )
        target = SlotKey(
            body["to"]["doctor_id"], instant(body["to"]["fecha_hora"], "to.fecha_hora", status=422)
        )
        who = caller()
        return slot_for(
            who,
            booking.reschedule_booking(store(), body.get("user_id"), source, target, caller=who),
        )


@blp.route("/users/<user_id>/appointments")
class Appointments(MethodView):
    """A user's bookings."""

    @user_data(APPOINTMENTS)
    @blp.arguments(AppointmentQuery, location="query")
    @blp.response(200, SlotPage)
    def get(self, query, user_id):
        """The user's booked slots from ``desde`` (default: all) in time order.

        Read from the ``user_id-index`` GSI, which follows the table after a short delay, and
        confirmed against the table: a slot just cancelled (204) is never listed as booked, but
        a slot just booked (201) may be missing for a moment. A page may therefore hold fewer
        than ``limit`` slots, even none, while ``next_cursor`` is set: keep paging until
        ``next_cursor`` is null.
        """
        who = caller()
        page = booking.list_appointments(
            store(),
            check_path_id(user_id, "user_id"),
            bound(query["desde"], "desde"),
            query["limit"],
            verify(query["cursor"]),
            caller=who,
        )
        tz = clinic_zone()
        return page_dict(page, lambda slot: slot_for(who, slot, tz))


@blp.route("/availability")
class Availability(MethodView):
    """Free slots of a specialty."""

    @blp.arguments(AvailabilityQuery, location="query")
    @blp.response(200, FreeSlotPage)
    def get(self, query):
        """Free future slots of every doctor of the specialty (default window: the next 7 days;
        at most 31 days), by doctor group, then in time order.

        Order: doctors are taken in ``doctor_id`` order, 200 to a group, and each request reads
        one group only. The pages show the first group's free slots in time order (ties by
        ``doctor_id``) over the whole window, then the next group's, again in time order from
        the window's start, and so on: a specialty of at most 200 doctors is one group, in one
        time order. Paging until ``next_cursor`` is null reaches every free slot of every
        doctor exactly once; the time order restarts at each group's first page.

        Doctors come from the specialty index, which follows the table after a short delay: a
        doctor just created may be missing for a moment. Free slots are read eventually
        consistent (one just booked may still be offered; booking it is then a 409). When the
        reads stop at the per-request read budget, or a group ends, the page stops there: it
        may hold fewer than ``limit`` slots, even none, while ``next_cursor`` is set; keep
        paging until ``next_cursor`` is null.
        """
        try:
            desde, hasta = availability.window(
                bound(query["desde"], "desde"), bound(query["hasta"], "hasta", end=True)
            )
        except InvalidRequestError as exc:
            raise ParameterError("hasta", str(exc)) from None
        page = availability.find_availability(
            store(),
            query["especialidad"],
            desde,
            hasta,
            query["limit"],
            verify(query["cursor"]),
            caller=caller(),
        )

        tz = clinic_zone()

        def item(free):
            data = slot_dict(free.slot, full=False, tz=tz)
            data.update(nombre=free.doctor.nombre, especialidad=free.doctor.especialidad)
            return data

        return page_dict(page, item)
