"""/api/v1/doctors: create, list by specialty, read, update, delete."""

from __future__ import annotations

from flask import url_for
from flask.views import MethodView

from health_api.api.auth import require_role
from health_api.api.blueprint import Blueprint
from health_api.api.context import check_path_id, storage
from health_api.api.cursors import verify
from health_api.api.views import doctor_dict, page_dict
from health_api.schemas.doctors import (
    DoctorCreate,
    DoctorOut,
    DoctorPage,
    DoctorQuery,
    DoctorUpdate,
)
from health_api.services import doctors as service

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
        if query["especialidad"]:
            page = storage().doctors.list_by_specialty(
                query["especialidad"], query["limit"], verify(query["cursor"])
            )
        else:
            page = storage().doctors.list_all(query["limit"], verify(query["cursor"]))
        return page_dict(page, doctor_dict)

    @require_role("admin")
    @blp.arguments(DoctorCreate)
    @blp.response(201, DoctorOut)
    @blp.alt_response(409, description="A doctor with this ``doctor_id`` exists.")
    def post(self, body):
        """Create a doctor (admin); 409 when ``doctor_id`` exists."""
        doctor = service.create_doctor(storage(), body)
        location = url_for("doctors.Doctor", doctor_id=doctor.doctor_id)
        return doctor_dict(doctor), 201, {"Location": location}


@blp.route("/<doctor_id>")
class Doctor(MethodView):
    """One doctor."""

    @blp.response(200, DoctorOut)
    def get(self, doctor_id):
        """Read a doctor."""
        return doctor_dict(storage().doctors.get(check_path_id(doctor_id)))

    @require_role("admin")
    @blp.arguments(DoctorUpdate)
    @blp.response(200, DoctorOut)
    def patch(self, changes, doctor_id):
        """Change some fields (admin); ``doctor_id`` cannot change."""
        return doctor_dict(service.update_doctor(storage(), check_path_id(doctor_id), changes))

    @require_role("admin")
    @blp.response(204)
    @blp.alt_response(409, description="The doctor has future booked slots.")
    def delete(self, doctor_id):
        """Delete a doctor (admin); 409 while they have future booked slots."""
        service.delete_doctor(storage(), check_path_id(doctor_id))
