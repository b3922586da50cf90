"""/api/v1/doctors/{doctor_id}/schedules: add, list and delete slots; book and cancel them."""

from __future__ import annotations

from flask.views import MethodView

from health_api.api.auth import require_role, user_data
from health_api.api.blueprint import Blueprint
from health_api.api.context import (
    ParameterError,
    bound,
    caller,
    check_path_id,
    instant,
    secret,
    settings,
    slot_key,
)
from health_api.api.context import storage as store
from health_api.api.cursors import verify
from health_api.api.views import clinic_zone, page_dict, slot_dict, slot_for
from health_api.domain.caller import APPOINTMENTS
from health_api.domain.errors import InvalidRequestError, MissingUserError
from health_api.schemas.common import Problem, SlotFull, SlotPage
from health_api.schemas.schedules import (
    BookingIn,
    CancelQuery,
    ScheduleCreate,
    ScheduleCreated,
    ScheduleQuery,
)
from health_api.services import booking, schedules
from health_api.services.recurrence import WeeklyRule, weekday_numbers
from health_api.services.times import parse_time_of_day, zone

DOCTOR_NOT_FOUND = "``/problems/doctor-not-found``: no such doctor."
SLOT_NOT_FOUND = (
    "``/problems/doctor-not-found``: no such doctor; ``/problems/not-found``: the doctor has no "
    "slot at that time."
)

blp = Blueprint(
    "schedules",
    __name__,
    url_prefix="/api/v1/doctors/<doctor_id>/schedules",
    description="A doctor's slots (table horarios_doctores), bookings and cancels.",
)


@blp.route("")
class Schedules(MethodView):
    """A doctor's slots."""

    @require_role("admin")
    @blp.arguments(ScheduleCreate)
    @blp.response(201, ScheduleCreated)
    @blp.alt_response(404, schema=Problem, description=DOCTOR_NOT_FOUND)
    def post(self, body, doctor_id):
        """Add slots (admin): a list, or a weekly rule expanded in its zone; existing slots are
        skipped, never overwritten."""
        doctor_id = check_path_id(doctor_id, "doctor_id")
        if "slots" in body:
            pairs = [
                (instant(s["fecha_hora"], f"slots.{i}.fecha_hora", status=422), s["duracion_min"])
                for i, s in enumerate(body["slots"])
            ]
            result = schedules.add_slots(store(), doctor_id, pairs, caller=caller())
        else:
            result = schedules.add_rule(store(), doctor_id, _rule(body), caller=caller())
        return {"created": result.created, "skipped": result.skipped}

    @blp.arguments(ScheduleQuery, location="query")
    @blp.response(200, SlotPage)
    @blp.alt_response(
        404,
        schema=Problem,
        description=f"{DOCTOR_NOT_FOUND} (An existing doctor with no slots in the window "
        "answers an empty page.)",
    )
    def get(self, query, doctor_id):
        """Slots between ``desde`` and ``hasta`` (default: the next 7 days) in time order.

        The window spans at most 93 days (``desde`` defaults to now, ``hasta`` to ``desde`` plus
        7 days; a longer window, defaults included, is a 400). Filtered by ``estado``, a page
        may hold fewer than ``limit`` slots, even none, while ``next_cursor`` is set: the server
        stopped at its per-request read budget; keep paging until ``next_cursor`` is null.
        """
        try:
            page = schedules.list_slots(
                store(),
                check_path_id(doctor_id, "doctor_id"),
                bound(query["desde"], "desde"),
                bound(query["hasta"], "hasta", end=True),
                query["estado"],
                query["limit"],
                verify(query["cursor"]),
                caller=caller(),
            )
        except InvalidRequestError as exc:
            # desde after hasta (given, or defaulted to now): a bad query parameter, so a 400.
            raise ParameterError("hasta", str(exc)) from None
        full = caller().is_admin
        tz = clinic_zone()
        return page_dict(page, lambda slot: slot_dict(slot, full=full, tz=tz, admin=full))


def _rule(body) -> WeeklyRule:
    def parsed(name, parse, value):
        try:
            return parse(value)
        except InvalidRequestError as exc:
            raise ParameterError(name, str(exc), 422) from None

    return WeeklyRule(
        desde=body["desde"],
        hasta=body["hasta"],
        dias=parsed("dias", weekday_numbers, body["dias"]),
        hora_inicio=parsed("hora_inicio", parse_time_of_day, body["hora_inicio"]),
        hora_fin=parsed("hora_fin", parse_time_of_day, body["hora_fin"]),
        duracion_min=body["duracion_min"],
        tz=parsed("zona_horaria", zone, body.get("zona_horaria") or settings().timezone),
    )


@blp.route("/<fecha_hora>")
class Schedule(MethodView):
    """One slot."""

    @require_role("admin")
    @blp.response(204)
    @blp.alt_response(409, schema=Problem, description="The slot is booked or held live.")
    def delete(self, doctor_id, fecha_hora):
        """Delete a slot that is neither booked nor held live (admin)."""
        schedules.delete_slot(store(), slot_key(doctor_id, fecha_hora), caller=caller())


@blp.route("/<fecha_hora>/booking")
class Booking(MethodView):
    """The booking of one slot."""

    @user_data(APPOINTMENTS)
    @blp.arguments(BookingIn)
    @blp.response(201, SlotFull, description="Booked.")
    @blp.alt_response(200, schema=SlotFull, description="Already booked by this user (retry).")
    @blp.alt_response(404, schema=Problem, description=SLOT_NOT_FOUND)
    @blp.alt_response(
        409,
        schema=Problem,
        description="``/problems/slot-taken``: booked, or held live, by someone else; "
        "``alternativas`` lists free slots. ``/problems/hold-invalid``: the ``hold_id`` is "
        "expired, edited, of another user or of another slot.",
    )
    def put(self, body, doctor_id, fecha_hora):
        """Book a slot with one conditional write; the same user again gets 200 and the same
        booking (whatever ``hold_id`` says). A booking by the holder of a live hold consumes
        it, with or without ``hold_id``."""
        who = caller()
        result = booking.book_slot(
            store(),
            slot_key(doctor_id, fecha_hora),
            body.get("user_id"),
            body["motivo"],
            caller=who,
            hold_id=body["hold_id"],
            secret=secret(),
        )
        return slot_for(who, result.slot), 201 if result.created else 200

    @user_data(APPOINTMENTS)
    @blp.arguments(CancelQuery, location="query")
    @blp.response(204)
    @blp.alt_response(404, schema=Problem, description=SLOT_NOT_FOUND)
    @blp.alt_response(
        409,
        schema=Problem,
        description="``/problems/not-your-booking``: the slot is booked, or held live, by "
        "another user (nothing changed; no ``alternativas``).",
    )
    def delete(self, query, doctor_id, fecha_hora):
        """Cancel the user's booking (or release the user's live hold); the slot is free again
        (409 if someone else booked or holds it)."""
        key = slot_key(doctor_id, fecha_hora)
        try:
            booking.cancel_booking(store(), key, query.get("user_id"), caller=caller())
        except MissingUserError as exc:
            # An API key named no user: a missing query parameter, so a 400 (as it always was).
            raise ParameterError("user_id", str(exc)) from None
