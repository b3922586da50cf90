"""What the OpenAPI document names: each operation's ``operationId`` (API.md v1.2: the names a
generated client gives its functions), each path parameter's rule, as the views check it, and
the service paths no blueprint describes."""

from __future__ import annotations

from health_api.schemas.common import ID_MESSAGE, ID_PATTERN

# Every operation's operationId (API.md v1.2): the names a generated client's functions get.
OPERATION_IDS = {
    ("get", "/healthz"): "healthz",
    ("get", "/readyz"): "readyz",
    ("get", "/openapi.json"): "openapi",
    ("get", "/docs"): "docs",
    ("post", "/api/v1/doctors"): "create_doctor",
    ("get", "/api/v1/doctors"): "list_doctors",
    ("get", "/api/v1/doctors/{doctor_id}"): "get_doctor",
    ("patch", "/api/v1/doctors/{doctor_id}"): "update_doctor",
    ("delete", "/api/v1/doctors/{doctor_id}"): "delete_doctor",
    ("post", "/api/v1/doctors/{doctor_id}/schedules"): "add_slots",
    ("get", "/api/v1/doctors/{doctor_id}/schedules"): "list_slots",
    ("delete", "/api/v1/doctors/{doctor_id}/schedules/{fecha_hora}"): "delete_slot",
    ("put", "/api/v1/doctors/{doctor_id}/schedules/{fecha_hora}/booking"): "book_slot",
    ("delete", "/api/v1/doctors/{doctor_id}/schedules/{fecha_hora}/booking"): "cancel_booking",
    ("post", "/api/v1/appointments/reschedule"): "reschedule_appointment",
    ("get", "/api/v1/users/{user_id}/appointments"): "list_user_appointments",
    ("get", "/api/v1/availability"): "list_availability",
    ("post", "/api/v1/holds"): "create_hold",
    ("get", "/api/v1/holds/{hold_id}"): "get_hold",
    ("delete", "/api/v1/holds/{hold_id}"): "release_hold",
    ("put", "/api/v1/sessions/{user_id}"): "put_session",
    ("get", "/api/v1/sessions/{user_id}"): "get_session",
    ("patch", "/api/v1/sessions/{user_id}"): "patch_session",
    ("delete", "/api/v1/sessions/{user_id}"): "delete_session",
    ("get", "/api/v1/admin/tables"): "get_tables",
    ("post", "/api/v1/admin/seed"): "load_seed",
    ("delete", "/api/v1/admin/seed"): "remove_seed",
    ("post", "/api/v1/tokens"): "issue_token",
}

# Path parameters as the views check them (a value outside the rule is a 400 naming it).
PATH_PARAMETERS = {
    "doctor_id": {
        "description": f"The doctor's id: {ID_MESSAGE}.",
        "schema": {"type": "string", "pattern": ID_PATTERN.pattern, "maxLength": 128},
    },
    "user_id": {
        "description": f"The user's id: {ID_MESSAGE}. With a user token, its own user "
        "(another is a 403 ``/problems/other-user``).",
        "schema": {"type": "string", "pattern": ID_PATTERN.pattern, "maxLength": 128},
    },
    "fecha_hora": {
        "description": "The slot's start, ISO 8601 with any UTC offset (none: the clinic zone), "
        "percent-encoded (``+`` as ``%2B``); not a time: a 400.",
        "schema": {"type": "string", "minLength": 1, "example": "2026-12-01T09:30:00Z"},
    },
}

# The service paths flask-smorest does not generate (the document itself and its page).
SERVICE_PATHS = {
    "/openapi.json": {
        "get": {
            "summary": "This OpenAPI 3 document.",
            "tags": ["service"],
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            },
        }
    },
    "/docs": {
        "get": {
            "summary": "A page that renders this document (Swagger UI, served offline).",
            "tags": ["service"],
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {"text/html": {"schema": {"type": "string"}}},
                }
            },
        }
    },
}
