"""What views need from the running app: its storage, settings, and parsed parameters."""

from __future__ import annotations

from flask import current_app
from marshmallow import ValidationError

from health_api.api.problems import ParameterError
from health_api.config import Settings
from health_api.domain.errors import InvalidRequestError, NotFoundError
from health_api.domain.models import SlotKey
from health_api.schemas.common import check_id
from health_api.services.times import normalize_instant
from health_api.storage.base import Storage

from .views import clinic_zone


def storage() -> Storage:
    """The app's storage backend."""
    return current_app.extensions["health_api.storage"]


def settings() -> Settings:
    """The app's settings."""
    return current_app.extensions["health_api.settings"]


def _normalize(value: str) -> str:
    return normalize_instant(value, clinic_zone())


def instant(value: str | None, field: str, *, status: int = 400) -> str | None:
    """Normalise an input time to canonical UTC; a bad one is a ``ParameterError`` naming
    ``field`` (400 for query and path parameters, 422 for body fields)."""
    if value is None:
        return None
    try:
        return _normalize(value)
    except InvalidRequestError as exc:
        raise ParameterError(field, str(exc), status) from None


def check_path_id(value: str) -> str:
    """A path value that is not a valid id cannot name a resource: 404."""
    try:
        return check_id(value)
    except ValidationError:
        raise NotFoundError("no such resource") from None


def slot_key(doctor_id: str, fecha_hora: str) -> SlotKey:
    """The slot named by a path; a time that does not parse names no slot (404)."""
    try:
        return SlotKey(check_path_id(doctor_id), _normalize(fecha_hora))
    except InvalidRequestError:
        raise NotFoundError("no such slot") from None
