"""Schedule rules: adding slots (a list or a weekly rule), listing a doctor's range, deleting.

Every function receives the ``caller``; none has an object-level rule yet (roles are checked
by the surfaces: adding and deleting slots need an admin key).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from health_api import clock
from health_api.domain import slots as slot_rules
from health_api.domain.caller import Caller
from health_api.domain.errors import DoctorNotFoundError, InvalidRequestError, NotFoundError
from health_api.domain.models import AddSlotsResult, Page, Slot, SlotKey
from health_api.domain.requests import SlotRange
from health_api.services.recurrence import WeeklyRule, expand
from health_api.services.times import from_utc_string, to_utc_string
from health_api.storage.base import Storage

MAX_SLOTS_PER_REQUEST = 500
DEFAULT_RANGE = timedelta(days=7)
# A listing window bounds what one request can read of a doctor's partition.
MAX_RANGE = timedelta(days=93)


def add_slots(
    storage: Storage, doctor_id: str, slots: Iterable[tuple[str, int]], *, caller: Caller
) -> AddSlotsResult:
    """Add ``(fecha_hora, duracion_min)`` slots to an existing doctor; existing ones are skipped.

    Slots in the past are refused: nobody could ever book them. A doctor being deleted is a
    ``ConflictError``: the writes themselves check the doctor, so none slips in after the mark.
    """
    # An unknown doctor is a 404 before the slots are judged. An eventual read is enough: the
    # writes below check the doctor again, consistently, in the same transactions.
    try:
        storage.doctors.get(doctor_id, consistent=False)
    except NotFoundError:
        raise DoctorNotFoundError(f"doctor {doctor_id} not found") from None
    now = to_utc_string(clock.now_utc())
    unique: dict[str, int] = {}
    for fecha_hora, duracion in slots:
        slot_rules.require_future(fecha_hora, now)
        unique.setdefault(fecha_hora, duracion)
    if len(unique) > MAX_SLOTS_PER_REQUEST:
        raise InvalidRequestError(f"at most {MAX_SLOTS_PER_REQUEST} slots per request")
    try:
        return storage.slots.add_for_doctor(
            doctor_id, [Slot(doctor_id, t, d) for t, d in sorted(unique.items())]
        )
    except NotFoundError:
        # Its only NotFoundError: the doctor was deleted since the read above.
        raise DoctorNotFoundError(f"doctor {doctor_id} not found") from None


def add_rule(
    storage: Storage, doctor_id: str, rule: WeeklyRule, *, caller: Caller
) -> AddSlotsResult:
    """Expand a weekly rule in its zone (DST-correct) and add its future slots."""
    now = to_utc_string(clock.now_utc())
    starts = [t for t in expand(rule, MAX_SLOTS_PER_REQUEST) if t > now]
    if not starts:
        raise InvalidRequestError("the rule yields no future slot")
    return add_slots(storage, doctor_id, ((t, rule.duracion_min) for t in starts), caller=caller)


def list_slots(
    storage: Storage,
    doctor_id: str,
    desde: str | None,
    hasta: str | None,
    estado: str | None,
    limit: int,
    cursor: str | None,
    *,
    caller: Caller,
) -> Page[Slot]:
    """A doctor's slots in a range: ``desde`` defaults to now, ``hasta`` to a week later; the
    window (defaults included) spans at most ``MAX_RANGE`` (``InvalidRequestError``). An empty
    page of a doctor that does not exist is ``DoctorNotFoundError``."""
    start = desde or to_utc_string(clock.now_utc())
    end = hasta or to_utc_string(from_utc_string(start) + DEFAULT_RANGE)
    if start > end:
        raise InvalidRequestError("desde is after hasta")
    if from_utc_string(end) - from_utc_string(start) > MAX_RANGE:
        raise InvalidRequestError(f"the window may span at most {MAX_RANGE.days} days")
    page = storage.slots.list_range(
        SlotRange(doctor_id, start, end, estado=estado, limit=limit, cursor=cursor)
    )
    if not page.items:
        # Only an empty page costs this read: a doctor with slots needs no check.
        require_doctor(storage, doctor_id)
    return page


def delete_slot(storage: Storage, key: SlotKey, *, caller: Caller) -> None:
    """Delete a slot that is neither booked nor held live (``ConflictError`` otherwise)."""
    storage.slots.delete(key, to_utc_string(clock.now_utc()))


def require_doctor(storage: Storage, doctor_id: str) -> None:
    """``DoctorNotFoundError`` unless the doctor exists (a consistent read). Called after a
    slot operation found nothing, to tell an unknown doctor from an unknown slot."""
    try:
        storage.doctors.get(doctor_id)
    except NotFoundError:
        raise DoctorNotFoundError(f"doctor {doctor_id} not found") from None
