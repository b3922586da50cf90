"""/api/v1/doctors: create, list by specialty, read, update, delete."""

from __future__ import annotations

from flask import jsonify, url_for
from flask.views import MethodView

from health_api.api import idempotency
from health_api.api.auth import require_role
from health_api.api.blueprint import Blueprint
from health_api.api.context import caller, check_path_id, storage
from health_api.api.cursors import verify
from health_api.api.views import doctor_dict, page_dict
from health_api.schemas.common import Problem
from health_api.schemas.doctors import (
    DoctorCreate,
    DoctorDeletion,
    DoctorOut,
    DoctorPage,
    DoctorQuery,
    DoctorUpdate,
)
from health_api.services import doctors as service

RETRY_AFTER_S = 1  # a deletion step is cheap to repeat; the next one starts at once

blp = Blueprint(
    "doctors",
    __name__,
    url_prefix="/api/v1/doctors",
    description="Doctors and their specialties (table doctores).",
)


@blp.route("")
class Doctors(MethodView):
    """The doctor collection."""

    @blp.arguments(DoctorQuery, location="query")
    @blp.response(200, DoctorPage)
    def get(self, query):
        """List doctors; with ``especialidad``, a Query on its GSI (case and accents ignored)."""
        page = service.list_doctors(
            storage(),
            query["especialidad"],
            query["limit"],
            verify(query["cursor"]),
            caller=caller(),
        )
        return page_dict(page, doctor_dict)

    @require_role("admin")
    @blp.arguments(DoctorCreate)
    @blp.response(201, DoctorOut)
    @blp.alt_response(409, description="A doctor with this ``doctor_id`` exists.")
    def post(self, body):
        """Create a doctor (admin); 409 when ``doctor_id`` exists."""
        doctor = service.create_doctor(
            storage(), body, id_seed=idempotency.id_seed(), caller=caller()
        )
        location = url_for("doctors.Doctor", doctor_id=doctor.doctor_id)
        return doctor_dict(doctor), 201, {"Location": location}


@blp.route("/<doctor_id>")
class Doctor(MethodView):
    """One doctor."""

    @blp.response(200, DoctorOut)
    def get(self, doctor_id):
        """Read a doctor."""
        doctor_id = check_path_id(doctor_id, "doctor_id")
        return doctor_dict(service.get_doctor(storage(), doctor_id, caller=caller()))

    @require_role("admin")
    @blp.arguments(DoctorUpdate)
    @blp.response(200, DoctorOut)
    def patch(self, changes, doctor_id):
        """Change some fields (admin); ``doctor_id`` cannot change."""
        return doctor_dict(
            service.update_doctor(
                storage(), check_path_id(doctor_id, "doctor_id"), changes, caller=caller()
            )
        )

    @require_role("admin")
    @blp.response(204, description="The doctor and their future slots are gone.")
    @blp.alt_response(
        202,
        schema=DoctorDeletion,
        description=(
            "Deletion under way (many future slots): some were removed, the doctor is marked "
            "``eliminando`` (no slots can be added). Repeat the DELETE after ``Retry-After`` "
            "seconds until it answers 204."
        ),
        headers={"Retry-After": {"$ref": "#/components/headers/Retry-After"}},
        success=True,
    )
    @blp.alt_response(
        409,
        schema=Problem,
        description=(
            "``/problems/conflict``: a future slot of the doctor is booked or held live. When "
            "it was so as the DELETE arrived, nothing changed (``slots_eliminados``: 0). Only "
            "a booking or hold that lands while the deletion runs stops it part-way: "
            "``slots_eliminados`` is then how many free future slots this request had removed "
            "(earlier 202 answers of the same deletion gave theirs). Either way the doctor "
            "stays, is no longer marked, and takes slots again: cancel the bookings (a hold "
            "lapses by itself), then repeat the DELETE."
        ),
    )
    def delete(self, doctor_id):
        """Delete a doctor (admin) and their future slots, in bounded steps: 204 when done,
        202 while slots remain (repeat the DELETE), 409 at a future slot booked or held live."""
        result = service.delete_doctor(
            storage(), check_path_id(doctor_id, "doctor_id"), caller=caller()
        )
        if result.done:
            return None
        body = {
            "doctor_id": result.doctor_id,
            "estado": "eliminando",
            "slots_eliminados": result.removed,
        }
        return jsonify(body), 202, {"Retry-After": str(RETRY_AFTER_S)}
