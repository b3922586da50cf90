"""Domain objects as response dictionaries (UTC and clinic-local times side by side): the one
shape of every answer, for REST responses and MCP tool results alike.

Plain functions of their inputs (the clinic zone, how to sign a cursor), so any surface can
call them; ``api.views`` binds them to the running Flask app.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import Any
from zoneinfo import ZoneInfo

from health_api.domain.models import Doctor, Hold, Session, Slot
from health_api.services.times import local_string

# What any client sees of a slot: a held one shows until when (``retenido_hasta``), not by whom.
PUBLIC_FIELDS = ("doctor_id", "fecha_hora", "duracion_min", "estado", "retenido_hasta")
# The booking, for its holder and for admins; the hold's holder (``retenido_por``) only for
# admin keys; the hold's nonce (``retencion``) never leaves the service.
BOOKING_FIELDS = (*PUBLIC_FIELDS, "user_id", "motivo", "reservado_en")
ADMIN_FIELDS = (*BOOKING_FIELDS, "retenido_por")
# Field names read once: dataclasses.asdict deep-copies every value on every call (~8% of a
# GET of one doctor), and these values are all strings, numbers or (idiomas) a tuple.
DOCTOR_FIELDS = tuple(f.name for f in fields(Doctor))


def slot_dict(
    slot: Slot, tz: ZoneInfo, full: bool = True, *, admin: bool = False
) -> dict[str, Any]:
    """A slot with ``fecha_hora_local`` and ``zona_horaria`` in ``tz``; bookings only when
    ``full``; who holds it (``retenido_por``) only for ``admin``."""
    names = ADMIN_FIELDS if admin else BOOKING_FIELDS if full else PUBLIC_FIELDS
    data = {name: getattr(slot, name) for name in names}
    data["fecha_hora_local"] = local_string(slot.fecha_hora, tz)
    data["zona_horaria"] = tz.key
    return data


def hold_dict(hold_id: str, hold: Hold, tz: ZoneInfo, *, admin: bool = False) -> dict[str, Any]:
    """A hold: its id, slot key, holder and expiry, and the held slot (the holder is named in
    ``slot`` only for ``admin``)."""
    return {
        "hold_id": hold_id,
        "doctor_id": hold.doctor_id,
        "fecha_hora": hold.fecha_hora,
        "user_id": hold.user_id,
        "expires_at": hold.expires_at,
        "slot": slot_dict(hold.slot, tz, admin=admin),
    }


def slot_public_list(slots: list[Slot], tz: ZoneInfo) -> list[dict[str, Any]]:
    """Slots without any booking details (alternatives, availability)."""
    return [slot_dict(slot, tz, full=False) for slot in slots]


def doctor_dict(doctor: Doctor) -> dict[str, Any]:
    """A doctor."""
    data = {name: getattr(doctor, name) for name in DOCTOR_FIELDS}
    data["idiomas"] = list(doctor.idiomas)
    return data


def session_dict(session: Session, ttl_seconds: int) -> dict[str, Any]:
    """A session with ``ttl_seconds``, the lifetime its PATCHes slide by (the stored ``ttl``
    stays internal; ``expires_at`` says it)."""
    return {
        "user_id": session.user_id,
        "data": session.data,
        "created_at": session.created_at,
        "updated_at": session.updated_at,
        "expires_at": session.expires_at,
        "ttl_seconds": ttl_seconds,
    }


def page_dict(
    page, convert: Callable[[Any], dict[str, Any]], sign: Callable[[str | None], str | None]
) -> dict[str, Any]:
    """``{"items": [...], "next_cursor": ...}`` with the cursor signed by ``sign``."""
    return {"items": [convert(item) for item in page.items], "next_cursor": sign(page.next_cursor)}
