"""Repository protocols: what the services may ask of storage, in domain terms.

Two implementations each (``dynamodb/`` and ``sqlite/``), one contract suite for both
(``tests/contract/``). DynamoDB semantics decide: every write that could race is one conditional
write (or one transaction), and SQLite reproduces the same condition inside a transaction.

Every method raises domain errors from ``health_api.domain.errors`` only; a backend exception
never escapes. Cursors are opaque strings; a tampered or foreign one is ``InvalidCursorError``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from health_api import clock
from health_api.domain.models import (
    UTC_FORMAT,
    AddSlotsResult,
    BookingResult,
    Doctor,
    Hold,
    HoldResult,
    Page,
    Session,
    Slot,
    SlotKey,
)
from health_api.storage.table_check import TableReport


@dataclass(frozen=True)
class FreeSlots:
    """What ``list_free_of_doctors`` found: ``slots`` in ``(fecha_hora, doctor_id)`` order and,
    when a read stopped at its per-request read budget before ``limit`` slots were found,
    ``stopped_at``: the ``(fecha_hora, doctor_id)`` position up to which every doctor's slots were
    read. Every slot returned is at or before it; the caller resumes strictly after it (a page
    that is short, even empty, with a cursor). None when nothing stopped early."""

    slots: list[Slot] = field(default_factory=list)
    stopped_at: tuple[str, str] | None = None


@dataclass(frozen=True)
class FutureSchedule:
    """What ``SlotRepository.read_future`` found of one doctor's slots from a time on.

    ``free``: the slots neither booked nor held live, in time order. ``taken_at``: the first
    slot booked or held live (the read stopped there, so ``free`` is then partial), else None.
    """

    free: list[str] = field(default_factory=list)
    taken_at: str | None = None


@dataclass(frozen=True)
class FreeSlotsDeletion:
    """What one ``SlotRepository.delete_free`` step did.

    ``removed``: slots this step deleted. ``taken_at``: the first of the step's slots found
    booked or held live (left in place), else None.
    """

    removed: int
    taken_at: str | None = None


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


class SlotRepository(Protocol):
    """Table ``horarios_doctores``: one item per slot, keyed by doctor and UTC start.

    Every time argument is a canonical UTC ``...Z`` string. A hold lives on the slot item
    (``retenido``, ``retenido_por``, ``retenido_hasta``, ``retencion``); a hold whose
    ``retenido_hasta <= now`` is ``disponible`` to every read and write at ``now``. Read methods
    take ``now`` as a keyword (None: the clock's now, ``health_api.clock``).
    """

    def add_many(self, slots: Sequence[Slot]) -> AddSlotsResult:
        """Create the slots that do not exist; existing ones are skipped and never overwritten,
        even when another writer creates the same key at the same moment. No doctor check:
        demo data and tests; the service adds through ``add_for_doctor``."""

    def add_for_doctor(self, doctor_id: str, slots: Sequence[Slot]) -> AddSlotsResult:
        """``add_many`` for slots of ``doctor_id`` only, in the same write(s) that check the
        doctor exists and is not being deleted, else ``NotFoundError`` / ``ConflictError``: no
        slot appears under a doctor once it is marked (DynamoDB writes 99 slots + the check per
        transaction, so chunks committed before the mark stay, as if added just before it)."""

    def read_future(self, doctor_id: str, desde: str, now: str) -> FutureSchedule:
        """The doctor's slots with ``fecha_hora >= desde`` as they are at ``now``, read in time
        order (key-range reads, strongly consistent, as many pages as it takes) until the first
        one booked or held live. Only slot times and states are read."""

    def delete_free(self, doctor_id: str, fechas: Sequence[str], now: str) -> FreeSlotsDeletion:
        """Delete the doctor's slots at ``fechas`` (at most 100), each with a condition that it
        is neither booked nor held live at ``now``; one found taken stays (``taken_at``). Slots
        already gone count for nothing. Bounded work: at most ``len(fechas)`` conditional
        deletes."""

    def get(self, key: SlotKey, *, now: str | None = None) -> Slot:
        """The slot as it is at ``now``, or ``NotFoundError``."""

    def delete(self, key: SlotKey, now: str | None = None) -> None:
        """Remove a slot that is neither booked nor held live at ``now``: ``NotFoundError``
        when absent, ``ConflictError`` when ``reservado`` or held (one conditional delete)."""

    def hold(
        self,
        key: SlotKey,
        user_id: str,
        nonce: str,
        expires_at: str,
        now: str,
        max_per_user: int,
    ) -> HoldResult:
        """Hold the slot for ``user_id`` until ``expires_at`` under ``nonce``: one write call
        (DynamoDB: one TransactWriteItems of the slot and the user's seats item; SQLite: one
        transaction). A free slot, or one whose hold expired, becomes ``retenido``
        (``created=True``); this user's live hold comes back unchanged (``created=False``, never
        counted twice). ``NotFoundError`` (no slot), ``SlotBlockedError`` (bloqueado),
        ``AlreadyBookedError`` (booked by this user), ``SlotTakenError`` (booked by another user
        or held live by another user), ``HoldLimitError`` (``max_per_user`` live holds already).
        Exact under concurrency."""

    def get_hold(self, key: SlotKey, nonce: str, now: str) -> Hold:
        """The live hold with ``nonce`` on the slot, else ``NotFoundError``."""

    def release_hold(self, key: SlotKey, nonce: str, now: str) -> None:
        """Clear the hold with ``nonce`` if the slot still carries it (the slot ``disponible``
        again, the user's seat freed); already gone is fine (idempotent)."""

    def list_range(
        self,
        doctor_id: str,
        desde: str,
        hasta: str,
        *,
        estado: str | None = None,
        limit: int = 20,
        cursor: str | None = None,
        consistent: bool = True,
        now: str | None = None,
    ) -> Page[Slot]:
        """Slots with ``desde <= fecha_hora <= hasta`` in time order, as they are at ``now``,
        optionally of one ``estado`` (``disponible`` includes expired holds, ``retenido`` only
        live ones): one sort-key range Query per page. ``desde > hasta`` is
        ``InvalidRequestError``. A page is filled up to ``limit`` when more matches exist,
        unless the read stopped at its per-request read budget (DynamoDB, filtering on
        ``estado``): then it may be short, even empty, with ``next_cursor`` set. ``consistent``
        False allows an eventually consistent read (half the cost on DynamoDB) where a
        moment's staleness is harmless."""

    def list_free_of_doctors(
        self,
        doctor_ids: Sequence[str],
        desde: str,
        hasta: str,
        limit: int,
        *,
        after: tuple[str, str] | None = None,
        now: str | None = None,
        read_budget: int | None = None,
    ) -> FreeSlots:
        """The slots free at ``now`` (``disponible``, or held with the hold expired) of any of
        ``doctor_ids`` with ``desde <= fecha_hora <= hasta`` (and, given ``after``,
        ``(fecha_hora, doctor_id) > after``: a keyset position to resume from), merged in
        ``(fecha_hora, doctor_id)`` order, the first ``limit``.
        Each doctor counts once however often it is named; no ids finds nothing; up to 200 ids
        work. ``desde > hasta`` or ``limit < 1`` is ``InvalidRequestError``. Reads may be
        eventually consistent. When a doctor's read stops at its read budget, the result stops
        at the least-advanced such doctor (``FreeSlots.stopped_at``); SQLite never stops early.
        ``read_budget``: the items the whole call may read, shared evenly by the doctors
        (DynamoDB; None: each doctor's read alone is bounded); SQLite reads only matches."""

    def book(
        self,
        key: SlotKey,
        user_id: str,
        motivo: str | None,
        now: str,
        hold_nonce: str | None = None,
    ) -> BookingResult:
        """Book a ``disponible`` slot (or one whose hold expired) for ``user_id`` with one
        conditional write, stamping ``reservado_en=now``. The same user booking again gets the
        existing booking back (``created=False``, nothing rewritten) whatever ``hold_nonce``
        says. A slot this user holds live is booked and the hold consumed (its seat freed, one
        transaction) with or without ``hold_nonce``. ``NotFoundError`` for no slot,
        ``SlotTakenError`` when another user booked it or holds it live, ``SlotBlockedError``
        when ``bloqueado``, ``HoldInvalidError`` when ``hold_nonce`` is given but the slot is
        not held live by this user under it. Whether the slot is in the past is the service's
        rule, not storage's."""

    def cancel(self, key: SlotKey, user_id: str, now: str | None = None) -> Slot:
        """Free a slot booked (or held live) by ``user_id`` (one conditional write) and return
        it ``disponible``. A slot that is already free is returned unchanged (a retried cancel
        succeeds). ``NotFoundError`` for no slot, ``SlotTakenError`` when another user booked
        it or holds it live."""

    def reschedule(self, user_id: str, source: SlotKey, target: SlotKey, now: str) -> Slot:
        """Move the user's booking from ``source`` to ``target`` all or nothing (one
        transaction): afterwards the user holds ``target`` (keeping the old ``motivo``) and
        ``source`` is free, or nothing changed and ``RescheduleError.reason`` says why. A retry
        after success (user holds ``target``, not ``source``) returns ``target`` unchanged.
        ``target`` may be held live by this user (the hold is consumed in the same
        transaction); held live by another user it is ``to_taken``."""

    def list_for_user(
        self,
        user_id: str,
        desde: str | None = None,
        limit: int = 20,
        cursor: str | None = None,
        *,
        now: str | None = None,
    ) -> Page[Slot]:
        """The user's booked slots with ``fecha_hora >= desde``, in time order, from the sparse
        ``user_id-index``."""


class SessionRepository(Protocol):
    """Table ``user_sessions``; an item whose ``ttl <= now`` is absent on every read."""

    def put(self, user_id: str, data: Mapping[str, Any], ttl_seconds: int, now: int) -> Session:
        """Create or replace the session, expiring ``ttl_seconds`` after ``now`` (epoch s);
        the session remembers ``ttl_seconds`` as its lifetime."""

    def get(self, user_id: str, now: int) -> Session:
        """The live session; ``NotFoundError`` when absent or ``ttl <= now``."""

    def merge(
        self,
        user_id: str,
        changes: Mapping[str, Any],
        ttl_seconds: int | None,
        now: int,
        *,
        default_ttl: int | None = None,
    ) -> Session:
        """Shallow-merge ``changes`` into ``data`` and slide the expiry to ``now`` + the
        lifetime: ``ttl_seconds`` when given (then remembered), else the one the session
        remembers, else ``default_ttl``. ``NotFoundError`` when absent or expired;
        ``InvalidRequestError`` when the merged data would exceed ``MAX_SESSION_DATA_BYTES``.
        Concurrent merges never lose a key."""

    def upsert(
        self,
        user_id: str,
        changes: Mapping[str, Any],
        ttl_seconds: int | None,
        now: int,
        *,
        default_ttl: int,
    ) -> Session:
        """``merge`` into the live session, or, when there is none (absent or expired), create
        it with ``changes`` as its data and ``ttl_seconds`` (else ``default_ttl``) as its
        remembered lifetime: one atomic write decided on the state it read, so concurrent first
        saves never lose a key (SQLite: one transaction; DynamoDB: one conditional write,
        retried on a lost race). ``InvalidRequestError`` as ``merge``."""

    def delete(self, user_id: str) -> None:
        """Remove the session; absent is fine (idempotent)."""


@dataclass(frozen=True)
class IdempotencyRecord:
    """One ``Idempotency-Key`` record (table ``idempotency_keys``); times are epoch seconds.

    ``clave`` is a hash of (API key id, Idempotency-Key); ``huella`` the request's fingerprint
    hash. A claim (``completed`` False) belongs to the request holding ``token``, which renews
    ``claimed_at`` while it runs (a lease); ``seed`` is drawn when the key is claimed afresh and
    kept by a takeover (ids the request generates derive from it; empty on records written
    before seeds existed). A completed record carries the stored answer: ``status``, ``body``
    (the exact bytes, as text), ``content_type`` and ``location``. The record is gone on every
    read once ``ttl <= now``."""

    clave: str
    huella: str
    token: str
    claimed_at: int
    ttl: int
    completed: bool = False
    status: int | None = None
    body: str | None = None
    content_type: str | None = None
    location: str | None = None
    seed: str = ""


class IdempotencyRepository(Protocol):
    """Table ``idempotency_keys``: claims and stored answers of requests with a key."""

    def get(self, clave: str, now: int) -> IdempotencyRecord | None:
        """The live record (``ttl > now``), read strongly consistent; None when absent."""

    def claim(self, record: IdempotencyRecord, now: int, stale_before: int) -> bool:
        """Store ``record`` (a claim) with one conditional write when no live record holds
        ``clave``, or the one there is a claim taken at or before ``stale_before`` (its
        process died). False when another live record is in the way."""

    def renew(self, clave: str, token: str, now: int) -> bool:
        """Set ``claimed_at`` to ``now`` on the live claim holding ``token`` (its request still
        runs; ``now`` 0 lapses the claim at once); False when the claim is gone, completed or
        taken over."""

    def complete(self, completed: IdempotencyRecord) -> bool:
        """Replace the claim with its answer, only while the claim still holds ``token``
        (False when it was taken over or is gone)."""

    def release(self, clave: str, token: str) -> None:
        """Delete the claim holding ``token`` (nothing when it is gone or taken over)."""


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
