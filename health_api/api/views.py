"""Response dictionaries of the running app: :mod:`health_api.schemas.shapes` bound to its
clinic zone and cursor key."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from health_api.api.cursors import sign
from health_api.api.kernel import kernel
from health_api.domain.caller import PUBLIC, Caller, slot_view
from health_api.domain.models import Hold, Slot
from health_api.schemas import shapes
from health_api.schemas.shapes import doctor_dict, session_dict

__all__ = [
    "clinic_zone",
    "doctor_dict",
    "hold_dict",
    "page_dict",
    "session_dict",
    "slot_dict",
    "slot_for",
    "slot_public_list",
]


def clinic_zone() -> ZoneInfo:
    """The clinic time zone of the running app."""
    return kernel().zone


def slot_dict(
    slot: Slot, full: bool = True, tz: ZoneInfo | None = None, *, admin: bool = False
) -> dict[str, Any]:
    """A slot (see :func:`shapes.slot_dict`), by default in the clinic zone."""
    return shapes.slot_dict(slot, tz or clinic_zone(), full, admin=admin)


def slot_for(caller: Caller, slot: Slot, tz: ZoneInfo | None = None) -> dict[str, Any]:
    """A booking, a hold's slot or an appointment as ``caller`` may see it
    (:func:`~health_api.domain.caller.slot_view`): the booking fields for the caller's own
    booking (a user token) or for a key that acts for any user; a slot booked by another user
    is public fields only. A slot nobody booked shows them too (all null: nothing to hide), so
    every caller gets the same shape."""
    full = slot.user_id is None or slot_view(caller, slot.user_id) != PUBLIC
    return slot_dict(slot, full=full, tz=tz)


def hold_dict(hold_id: str, hold: Hold, caller: Caller) -> dict[str, Any]:
    """A hold in the clinic zone (see :func:`shapes.hold_dict`) as ``caller`` may see it: the
    holder of its slot (``retenido_por``) for admin keys only."""
    return shapes.hold_dict(hold_id, hold, clinic_zone(), admin=caller.is_admin)


def slot_public_list(slots: list[Slot]) -> list[dict[str, Any]]:
    """Slots without any booking details (alternatives, availability)."""
    return shapes.slot_public_list(slots, clinic_zone())


def page_dict(page, convert) -> dict[str, Any]:
    """``{"items": [...], "next_cursor": ...}`` with the app's signed cursor."""
    return shapes.page_dict(page, convert, sign)
