"""What views need from the running app: its storage, settings, the caller, and parsed
parameters."""

from __future__ import annotations

from marshmallow import ValidationError

from health_api.api.auth import caller
from health_api.api.kernel import kernel
from health_api.api.problems import ParameterError
from health_api.config import Settings
from health_api.domain.errors import InvalidRequestError
from health_api.domain.models import SlotKey
from health_api.schemas.common import check_id
from health_api.services.times import normalize_bound, normalize_instant
from health_api.storage.base import Storage

from .views import clinic_zone


def storage() -> Storage:
    """The app's storage backend."""
    return kernel().storage


def settings() -> Settings:
    """The app's settings."""
    return kernel().settings


def secret() -> bytes:
    """The key cursors and ``hold_id``s are signed with (shared with the MCP server)."""
    return kernel().secret


__all__ = [
    "ParameterError",
    "bound",
    "caller",
    "check_path_id",
    "instant",
    "secret",
    "settings",
    "slot_key",
    "storage",
]


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


def bound(value: str | None, field: str, *, end: bool = False) -> str | None:
    """A query window's ``desde`` / ``hasta`` (a date-time, or a date: its first second, or
    with ``end`` its last) as canonical UTC; a bad one is a 400 naming ``field``."""
    if value is None:
        return None
    try:
        return normalize_bound(value, clinic_zone(), end=end)
    except InvalidRequestError as exc:
        raise ParameterError(field, str(exc)) from None


def check_path_id(value: str, field: str) -> str:
    """A path id (``doctor_id``, ``user_id``) that breaks the id rule: a 400 naming it."""
    try:
        return check_id(value)
    except ValidationError as exc:
        raise ParameterError(field, " ".join(exc.messages)) from None


def slot_key(doctor_id: str, fecha_hora: str) -> SlotKey:
    """The slot named by a path; an id or a time that does not parse is a 400 naming it."""
    return SlotKey(check_path_id(doctor_id, "doctor_id"), instant(fecha_hora, "fecha_hora"))
