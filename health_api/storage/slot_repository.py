"""The slot repository protocol (table ``horarios_doctores``) and the results its reads and
deletions return. Part of the repository protocols of ``storage.base``, which re-exports
every name here; the rules of the whole set (one conditional write per racing write, domain
errors only, opaque cursors) are in its docstring."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from health_api.domain.models import (
    AddSlotsResult,
    BookingResult,
    Hold,
    HoldResult,
    Page,
    Slot,
    SlotKey,
)
from health_api.domain.requests import (
    BookingRequest,
    FreeSlotSearch,
    HoldRequest,
    SlotRange,
    UserBookings,
)


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

    def hold(self, request: HoldRequest, now: str) -> HoldResult:
        """Hold the slot ``request.key`` for ``user_id`` until ``expires_at`` under ``nonce`` (all
        of ``request``): one write call (DynamoDB: one TransactWriteItems of the slot and the user's
        seats item; SQLite: one transaction). A free slot, or one whose hold expired, becomes
        ``retenido`` (``created=True``); this user's live hold comes back unchanged
        (``created=False``, never counted twice). ``NotFoundError`` (no slot), ``SlotBlockedError``
        (bloqueado), ``AlreadyBookedError`` (booked by this user), ``SlotTakenError`` (booked by
        another user or held live by another user), ``HoldLimitError`` (``max_per_user`` live holds
        already). Exact under concurrency."""

    def get_hold(self, key: SlotKey, nonce: str, now: str) -> Hold:
        """The live hold with ``nonce`` on the slot, else ``NotFoundError``."""

    def release_hold(self, key: SlotKey, nonce: str, now: str) -> None:
        """Clear the hold with ``nonce`` if the slot still carries it (the slot ``disponible``
        again, the user's seat freed); already gone is fine (idempotent)."""

    def list_range(self, query: SlotRange, *, now: str | None = None) -> Page[Slot]:
        """The slots of ``query.doctor_id`` with ``desde <= fecha_hora <= hasta`` in time order,
        as they are at ``now``, optionally of one ``estado`` (``disponible`` includes expired
        holds, ``retenido`` only live ones): one sort-key range Query per page. ``desde > hasta`` is
        ``InvalidRequestError``. A page is filled up to ``limit`` when more matches exist,
        unless the read stopped at its per-request read budget (DynamoDB, filtering on
        ``estado``): then it may be short, even empty, with ``next_cursor`` set. ``consistent``
        False allows an eventually consistent read (half the cost on DynamoDB) where a
        moment's staleness is harmless."""

    def list_free_of_doctors(self, search: FreeSlotSearch, *, now: str | None = None) -> FreeSlots:
        """Of ``search``: the slots free at ``now`` (``disponible``, or held with the hold expired)
        of any of ``doctor_ids`` with ``desde <= fecha_hora <= hasta`` (and, given ``after``,
        ``(fecha_hora, doctor_id) > after``: a keyset position to resume from), merged in
        ``(fecha_hora, doctor_id)`` order, the first ``limit``. Each doctor counts once however
        often it is named; no ids finds nothing; up to 200 ids work. ``desde > hasta`` or
        ``limit < 1`` is ``InvalidRequestError``. Reads may be eventually consistent. When a
        doctor's read stops at its read budget, the result stops at the least-advanced such doctor
        (``FreeSlots.stopped_at``); SQLite never stops early. ``read_budget``: the items the whole
        call may read, shared evenly by the doctors (DynamoDB; None: each doctor's read alone is
        bounded); SQLite reads only matches."""

    def book(self, request: BookingRequest, now: str) -> BookingResult:
        """Book the ``disponible`` slot ``request.key`` (or one whose hold expired) for ``user_id``
        with one conditional write, stamping ``reservado_en=now``. The same user booking again gets
        the existing booking back (``created=False``, nothing rewritten) whatever ``hold_nonce``
        says. A slot this user holds live is booked and the hold consumed (its seat freed, one
        transaction) with or without ``hold_nonce``. ``NotFoundError`` for no slot,
        ``SlotTakenError`` when another user booked it or holds it live, ``SlotBlockedError`` when
        ``bloqueado``, ``HoldInvalidError`` when ``hold_nonce`` is given but the slot is not held
        live by this user under it. Whether the slot is in the past is the service's rule, not
        storage's."""

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

    def list_for_user(self, query: UserBookings, *, now: str | None = None) -> Page[Slot]:
        """The booked slots of ``query.user_id`` with ``fecha_hora >= desde``, in time order, from
        the sparse ``user_id-index``."""
