"""Repository protocols: what the services may ask of storage, in domain terms.

Two implementations each (``dynamodb/`` and ``sqlite/``), one contract suite for both
(``tests/contract/``). DynamoDB semantics decide: every write that could race is one conditional
write (or one transaction), and SQLite reproduces the same condition inside a transaction.

Every method raises domain errors from ``health_api.domain.errors`` only; a backend exception
never escapes. Cursors are opaque strings; a tampered or foreign one is ``InvalidCursorError``.

The slot and idempotency protocols live in ``slot_repository`` and ``idempotency_repository``
(each with its result types); every name is re-exported here, so ``storage.base`` stays the one
import for the services and the backends.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from health_api import clock
from health_api.domain.models import UTC_FORMAT, Doctor, Page, Session
from health_api.domain.requests import SessionPatch
from health_api.storage.idempotency_repository import IdempotencyRecord, IdempotencyRepository
from health_api.storage.slot_repository import (
    FreeSlots,
    FreeSlotsDeletion,
    FutureSchedule,
    SlotRepository,
)
from health_api.storage.table_check import TableReport

__all__ = [
    "DoctorRepository",
    "FreeSlots",
    "FreeSlotsDeletion",
    "FutureSchedule",
    "IdempotencyRecord",
    "IdempotencyRepository",
    "SessionRepository",
    "SlotRepository",
    "Storage",
    "resolve_now",
]


class DoctorRepository(Protocol):
    """Table ``doctores``; specialty lookups use the ``especialidad-index`` GSI."""

    def get(self, doctor_id: str, *, consistent: bool = True) -> Doctor:
        """The doctor, or ``NotFoundError``. ``consistent=False`` may read a moment-old copy
        (DynamoDB: an eventually consistent GetItem at half the cost) where staleness is
        harmless; a write decision never rests on such a read."""

    def create(self, doctor: Doctor) -> Doctor:
        """Store a new doctor; ``ConflictError`` when the id exists (nothing overwritten)."""

    def update(self, doctor_id: str, changes: Mapping[str, Any]) -> Doctor:
        """Set the given fields (names from ``DOCTOR_UPDATABLE``; None removes an optional one)
        and return the result; ``NotFoundError`` when absent (never creates)."""

    def delete(self, doctor_id: str, *, mark: str | None = None) -> None:
        """Remove the doctor; ``NotFoundError`` when absent. Given ``mark``, only while the
        doctor still carries that deletion mark (``ConflictError`` otherwise: the deletion was
        called off or restarted meanwhile). Slots are the service's concern."""

    def mark_deletion(self, doctor_id: str, mark: str) -> str:
        """Mark the doctor as being deleted (``eliminando_desde``) unless it already is, and
        return the mark in force (an earlier one wins, so repeated DELETEs share it); from then
        on ``SlotRepository.add_for_doctor`` refuses it. ``NotFoundError`` when absent."""

    def unmark_deletion(self, doctor_id: str, mark: str) -> None:
        """Clear the deletion mark if it is still ``mark``; anything else is left alone."""

    def list_by_specialty(
        self, especialidad: str, limit: int, cursor: str | None = None
    ) -> Page[Doctor]:
        """Doctors whose specialty matches ignoring case and accents, ordered by ``doctor_id``:
        one Query on ``especialidad-index``, never a Scan."""

    def list_all(self, limit: int, cursor: str | None = None) -> Page[Doctor]:
        """Every doctor, a page at a time (order is the backend's, stable across pages)."""


class SessionRepository(Protocol):
    """Table ``user_sessions``; an item whose ``ttl <= now`` is absent on every read."""

    def put(self, user_id: str, data: Mapping[str, Any], ttl_seconds: int, now: int) -> Session:
        """Create or replace the session, expiring ``ttl_seconds`` after ``now`` (epoch s);
        the session remembers ``ttl_seconds`` as its lifetime."""

    def get(self, user_id: str, now: int) -> Session:
        """The live session; ``NotFoundError`` when absent or ``ttl <= now``."""

    def merge(self, user_id: str, patch: SessionPatch, now: int) -> Session:
        """Shallow-merge ``patch.changes`` into ``data`` and slide the expiry to ``now`` + the
        lifetime: ``ttl_seconds`` when given (then remembered), else the one the session remembers,
        else ``default_ttl`` (all of ``patch``). ``NotFoundError`` when absent or expired;
        ``InvalidRequestError`` when the merged data would exceed ``MAX_SESSION_DATA_BYTES``.
        Concurrent merges never lose a key."""

    def upsert(self, user_id: str, patch: SessionPatch, now: int) -> Session:
        """``merge`` into the live session, or, when there is none (absent or expired), create it
        with ``patch.changes`` as its data and ``ttl_seconds`` (else ``default_ttl``, which must
        then be given) as its remembered lifetime: one atomic write decided on the state it read, so
        concurrent first saves never lose a key (SQLite: one transaction; DynamoDB: one conditional
        write, retried on a lost race). ``InvalidRequestError`` as ``merge``."""

    def delete(self, user_id: str) -> None:
        """Remove the session; absent is fine (idempotent)."""


class Storage(Protocol):
    """One backend's repositories plus its lifecycle and readiness check."""

    doctors: DoctorRepository
    slots: SlotRepository
    sessions: SessionRepository
    idempotency: IdempotencyRepository

    def check_tables(self) -> list[TableReport]:
        """One report per table against its whole spec, TTL and tags included
        (``/admin/tables``, ``setup_tables.py --validate``)."""

    def check_ready(self) -> list[TableReport]:
        """Readiness (``/readyz``), cheap enough for every probe: one data-plane read of every
        served table per call (a missing table shows at once) and table checks the backend may
        cache for at most 10 s (DynamoDB: DescribeTable, never the tag or TTL reads);
        ``StorageUnavailableError`` when the storage does not answer."""

    def end_request(self) -> None:
        """A request ended (the app's teardown): drop what must not outlive it. SQLite keeps
        the thread's connection for the thread's next request, unless it is unusable."""

    def release(self) -> None:
        """Give back this thread's resources now (SQLite: close this thread's connection)."""

    def close(self) -> None:
        """Release everything the backend holds; the object is unusable afterwards."""


def resolve_now(now: str | None) -> str:
    """``now`` as given, or the clock's current instant as a canonical UTC string (what read
    methods use when their caller passes no ``now``)."""
    return now if now is not None else clock.now_utc().strftime(UTC_FORMAT)
