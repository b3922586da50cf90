"""Doctor rules: listing and reading, generated ids, and a deletion in bounded steps that never
races a booking. Every function receives the ``caller`` (roles are checked by the surfaces).

Deleting a doctor with thousands of future slots cannot be one request's work (gunicorn stops a
worker after 30 s), and deleting the doctor first would leave bookable orphan slots. So:

1. mark the doctor as being deleted (``eliminando_desde``; repeated DELETEs share the first
   mark); from then on no slot can be added to it (every slot creation checks the mark in the
   same write);
2. read the doctor's whole future schedule (strongly consistent): a slot booked, or held live,
   is a 409 that changed nothing (the mark is cleared, no slot was touched);
3. delete the free future slots read, in time order, a step of ``STEP`` at a time, each with the
   slot DELETE's condition (neither booked nor held live); past slots stay (the users' history);
4. a slot booked or held between the read and its delete stays and stops the deletion: the mark
   is cleared and the answer is a 409 that says how many free slots this request had removed
   (``slots_eliminados``); the step budget spent with slots left: :class:`DoctorDeletion` with
   ``done=False`` (a 202: repeat the DELETE); no future slot left: the doctor item is deleted
   last, only while it carries this deletion's mark, and the deletion is ``done`` (a 204).

A booking needs no transaction for this: it is one conditional write on the slot, and a slot
booked before its conditional delete makes that delete fail (then the 409).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from health_api import clock
from health_api.domain.caller import Caller
from health_api.domain.errors import ConflictError, DoctorDeletionStoppedError
from health_api.domain.models import Doctor, Page
from health_api.services.times import to_utc_string
from health_api.storage.base import Storage

STEP = 100  # slots per storage step (STEP conditional deletes in parallel)
MAX_REMOVED_PER_REQUEST = 2000  # then a 202: repeat the DELETE
MAX_SECONDS_PER_REQUEST = 10.0  # well inside gunicorn's 30 s, with a step's worst case after it


@dataclass(frozen=True)
class DoctorDeletion:
    """The outcome of one DELETE: ``done`` (the doctor is gone) or still ``eliminando``."""

    doctor_id: str
    done: bool
    removed: int  # future free slots this request deleted


def new_doctor_id(seed: str | None = None) -> str:
    """A fresh, URL-safe doctor id; with ``seed`` (an Idempotency-Key's, see
    ``services/idempotency.py``) always the same id for the same seed."""
    return f"doc-{(seed or uuid.uuid4().hex)[:12]}"


def list_doctors(
    storage: Storage, especialidad: str | None, limit: int, cursor: str | None, *, caller: Caller
) -> Page[Doctor]:
    """A page of doctors: of ``especialidad`` (case and accents ignored) when given, else all."""
    if especialidad:
        return storage.doctors.list_by_specialty(especialidad, limit, cursor)
    return storage.doctors.list_all(limit, cursor)


def get_doctor(storage: Storage, doctor_id: str, *, caller: Caller) -> Doctor:
    """A doctor (``NotFoundError`` when absent). Eventually consistent (half the read cost on
    DynamoDB): a moment's staleness is harmless to a reader, and no write decision rests on it."""
    return storage.doctors.get(doctor_id, consistent=False)


def create_doctor(
    storage: Storage, fields: Mapping[str, Any], id_seed: str | None = None, *, caller: Caller
) -> Doctor:
    """Store a new doctor; ``doctor_id`` is generated when absent (from ``id_seed`` when
    given). ``ConflictError`` if taken, except that a generated id derived from ``id_seed``
    that exists already is this very request's earlier run (it committed, then died before
    answering): that doctor is the answer, not a second one."""
    values = dict(fields)
    derived = not values.get("doctor_id") and id_seed is not None
    values["doctor_id"] = values.get("doctor_id") or new_doctor_id(id_seed)
    values["idiomas"] = tuple(values.get("idiomas") or ())
    try:
        return storage.doctors.create(Doctor(**values))
    except ConflictError:
        if not derived:
            raise
        return storage.doctors.get(values["doctor_id"])


def update_doctor(
    storage: Storage, doctor_id: str, changes: Mapping[str, Any], *, caller: Caller
) -> Doctor:
    """Apply a partial update (``doctor_id`` itself never changes)."""
    values = dict(changes)
    if "idiomas" in values:
        values["idiomas"] = tuple(values["idiomas"] or ())
    if not values:
        return storage.doctors.get(doctor_id)
    return storage.doctors.update(doctor_id, values)


def delete_doctor(
    storage: Storage,
    doctor_id: str,
    *,
    caller: Caller,
    max_removed: int | None = None,
    max_seconds: float | None = None,
) -> DoctorDeletion:
    """One request's share of deleting a doctor (see the module doc): ``NotFoundError`` when
    absent, ``DoctorDeletionStoppedError`` at a future slot booked or held live, else how far
    it got. The budget defaults to ``MAX_REMOVED_PER_REQUEST`` slots and
    ``MAX_SECONDS_PER_REQUEST``."""
    max_removed = max_removed or MAX_REMOVED_PER_REQUEST
    max_seconds = max_seconds or MAX_SECONDS_PER_REQUEST
    now = to_utc_string(clock.now_utc())
    # The mark carries its start and a random part: a deletion restarted after a 409 gets a
    # new one, so the doctor item is only ever deleted by the deletion that marked it.
    proposed = f"{now} {uuid.uuid4().hex[:8]}"
    mark = storage.doctors.mark_deletion(doctor_id, proposed)
    # Read after the mark: no slot can be added behind this read.
    future = storage.slots.read_future(doctor_id, now, now)
    if future.taken_at is not None:
        storage.doctors.unmark_deletion(doctor_id, mark)
        earlier = (
            " (earlier DELETEs of this deletion had removed free slots: see their 202 answers)"
            if mark != proposed
            else ""
        )
        raise DoctorDeletionStoppedError(
            f"the doctor has future slots booked or held (the first at {future.taken_at}); "
            "cancel them first (a hold also lapses by itself). This request deleted nothing"
            f"{earlier}."
        )
    # A budget of wall time, not of the clock: time.monotonic is what bounds a request.
    started = time.monotonic()
    pending, tried, removed = future.free, 0, 0
    while pending:
        if tried >= max_removed or time.monotonic() - started >= max_seconds:
            return DoctorDeletion(doctor_id, done=False, removed=removed)
        fechas = pending[: min(STEP, max_removed - tried)]
        pending = pending[len(fechas) :]
        tried += len(fechas)
        # Each step's own now: a hold that lapsed meanwhile no longer protects its slot.
        step = storage.slots.delete_free(doctor_id, fechas, to_utc_string(clock.now_utc()))
        removed += step.removed
        if step.taken_at is not None:
            storage.doctors.unmark_deletion(doctor_id, mark)
            raise DoctorDeletionStoppedError(
                f"a slot was booked or held while the deletion ran (at {step.taken_at}); the "
                f"deletion stopped after removing {removed} free future slots and the doctor "
                "stays. Cancel the bookings, then repeat the DELETE.",
                slots_eliminados=removed,
            )
    try:
        storage.doctors.delete(doctor_id, mark=mark)
    except ConflictError:
        # The mark changed: a concurrent DELETE met a booking and called this deletion off,
        # maybe another restarted it. Repeating the DELETE decides afresh.
        return DoctorDeletion(doctor_id, done=False, removed=removed)
    return DoctorDeletion(doctor_id, done=True, removed=removed)
