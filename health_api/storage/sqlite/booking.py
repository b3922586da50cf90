"""SQLite's booking: hold, get_hold, release_hold, book, cancel and reschedule of a slot.

The rules are the domain's (``health_api.domain.slots``); this module only writes. Each action is
one ``BEGIN IMMEDIATE`` transaction of conditional ``UPDATE ... WHERE`` statements, each the
domain's ``Write`` with its ``Precondition`` rendered once (:func:`where`) and its changes as the
``SET`` clause (:func:`set_clause`). Where the code makes no read today (book, cancel, release) the
action's first write goes at once; when it changes no row the slot is read in the same
transaction and handed to the domain, whose answer may be another write (the user's own hold,
under its own condition). Because the transaction holds the write lock from its start, that read
sees exactly the state that made the condition fail, and the answer's write meets its condition.

The per-user hold limit is exact without a counter: writers are serialised by that lock, so
counting the user's live holds (one range of the partial ``holds`` index) and then taking the slot
cannot race another hold. An expired hold needs no clean-up: it no longer matches the count, and
``FREE`` accepts it.
"""

# Table names are identifiers, which SQL cannot bind as parameters: they come from the validated
# settings and are always passed through schema.quote(); every value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping

from health_api.domain import slots as rules
from health_api.domain.models import (
    RETENIDO,
    BookingResult,
    Hold,
    HoldResult,
    Slot,
    SlotKey,
    hold_of,
)
from health_api.domain.requests import BookingRequest, HoldRequest
from health_api.domain.slots import Keep, Outcome, Precondition, Write
from health_api.storage.base import resolve_now
from health_api.storage.sqlite.connection import SqliteDatabase

# The slot's columns, in the table's order; each is the domain ``Slot`` field of its name.
FIELDS = (
    "doctor_id",
    "fecha_hora",
    "duracion_min",
    "estado",
    "user_id",
    "motivo",
    "reservado_en",
    "retenido_por",
    "retenido_hasta",
    "retencion",
)
COLUMNS = ", ".join(FIELDS)
KEY = "doctor_id = ? AND fecha_hora = ?"
# Free at instant ? (a bound now): disponible, or held with the hold expired.
FREE_AT = "(estado = 'disponible' OR (estado = 'retenido' AND retenido_hasta <= ?))"
# Held live at instant ? (a bound now).
HELD_AT = "(estado = 'retenido' AND retenido_hasta > ?)"


def to_slot(row: sqlite3.Row) -> Slot:
    """The domain slot of one row."""
    return Slot(**{name: row[name] for name in FIELDS})


def read_slot(conn: sqlite3.Connection, table: str, key: SlotKey) -> Slot | None:
    """The slot at ``key`` in ``table`` (a quoted name), or None."""
    row = conn.execute(
        f"SELECT {COLUMNS} FROM {table} WHERE {KEY}", (key.doctor_id, key.fecha_hora)
    ).fetchone()
    return None if row is None else to_slot(row)


def where(when: Precondition, user_id: str, now: str, nonce: str | None) -> tuple[str, tuple]:
    """The ``WHERE`` fragment (and its values) meaning ``when`` (``domain.writes.meets``)."""
    if when is Precondition.FREE:
        return FREE_AT, (now,)
    if when is Precondition.HELD_LIVE_BY:
        if nonce is None:  # under whichever nonce the user's live hold carries
            return f"{HELD_AT} AND retenido_por = ?", (now, user_id)
        return f"{HELD_AT} AND retenido_por = ? AND retencion = ?", (now, user_id, nonce)
    if when is Precondition.BOOKED_BY:
        return "estado = 'reservado' AND user_id = ?", (user_id,)
    if when is Precondition.DELETABLE:
        # Neither booked nor held live (an expired hold is free to delete).
        return f"estado <> 'reservado' AND NOT {HELD_AT}", (now,)
    # CARRIES_HOLD: expired or not, the hold under this nonce.
    return "estado = 'retenido' AND retencion = ?", (nonce,)


def set_clause(changes: Mapping[str, str | None]) -> tuple[str, tuple]:
    """The ``SET`` clause (and its values) of a write's changes; None clears a column, which
    drops a freed slot from the partial ``user_id`` and ``holds`` indexes as REMOVE does on a
    sparse GSI."""
    unknown = set(changes) - set(FIELDS)
    if unknown:  # pragma: no cover - the domain's field names are the columns
        raise ValueError(f"not a slot column: {sorted(unknown)}")
    return ", ".join(f"{name} = ?" for name in changes), tuple(changes.values())


def apply(
    conn: sqlite3.Connection,
    table: str,
    key: SlotKey,
    write: Write | tuple[Write, ...],
    user_id: str,
    now: str,
) -> Slot | None:
    """Make ``write`` on the slot at ``key`` under its precondition (given several writes of
    the same changes, under any of theirs: one statement): the slot after it, or None when the
    condition failed (or there is no such slot)."""
    writes = write if isinstance(write, tuple) else (write,)
    rendered = [where(w.when, user_id, now, w.nonce) for w in writes]
    condition = " OR ".join(f"({fragment})" for fragment, _ in rendered)
    given = tuple(value for _, values in rendered for value in values)
    if any(w.changes != writes[0].changes for w in writes):  # pragma: no cover - a misuse
        raise ValueError("one statement makes one change")
    changes, values = set_clause(writes[0].changes)
    rows = conn.execute(
        f"UPDATE {table} SET {changes} WHERE {KEY} AND ({condition}) RETURNING {COLUMNS}",
        (*values, key.doctor_id, key.fecha_hora, *given),
    ).fetchall()
    return to_slot(rows[0]) if rows else None


def settle(
    conn: sqlite3.Connection,
    table: str,
    key: SlotKey,
    first: Write | tuple[Write, ...],
    ask: Callable[[Slot | None], Outcome],
    user_id: str,
    now: str,
) -> Keep:
    """Make ``first`` (one write, or several of one change under any of their conditions);
    should its condition fail, read the slot and make the domain's answer (``ask``). The
    answer is what the action did: ``Keep(slot, created=True)`` for a write."""
    done = apply(conn, table, key, first, user_id, now)
    if done is not None:
        return Keep(done, created=True)
    answer = ask(read_slot(conn, table, key))
    if isinstance(answer, Keep):
        return answer
    done = apply(conn, table, key, answer, user_id, now)
    if done is None:  # pragma: no cover - the write lock keeps the row as just read
        raise RuntimeError("a write the domain derived from the row failed its condition")
    return Keep(done, created=True)


def live_holds(conn: sqlite3.Connection, table: str, user_id: str, now: str) -> int:
    """How many live holds ``user_id`` has at ``now`` (an index range, never a table scan)."""
    row = conn.execute(
        f"SELECT COUNT(*) FROM {table} WHERE retenido_por = ? AND retenido_hasta > ?"
        " AND estado = ?",
        (user_id, now, RETENIDO),
    ).fetchone()
    return int(row[0])


class SqliteBooking:
    """The booking half of ``SqliteSlotRepository`` (see ``SlotRepository`` for each
    method's contract): every method is one transaction of the writer."""

    _db: SqliteDatabase
    _table: str  # quoted

    def hold(self, request: HoldRequest, now: str) -> HoldResult:
        """Hold the slot for ``user_id`` until ``expires_at``: read, ask the domain, count the
        user's live holds, then take it under ``FREE``."""
        key, user_id = request.key, request.user_id
        nonce, expires_at = request.nonce, request.expires_at
        with self._db.write() as conn:
            answer = rules.hold(read_slot(conn, self._table, key), user_id, nonce, expires_at, now)
            if isinstance(answer, Write):
                live = live_holds(conn, self._table, user_id, now)
                rules.check_hold_limit(live, request.max_per_user)
                answer = settle(
                    conn,
                    self._table,
                    key,
                    answer,
                    lambda slot: rules.hold(slot, user_id, nonce, expires_at, now),
                    user_id,
                    now,
                )
        return HoldResult(hold_of(answer.slot), created=answer.created)

    def get_hold(self, key: SlotKey, nonce: str, now: str) -> Hold:
        """The live hold with ``nonce`` on the slot, else ``NotFoundError``."""
        with self._db.read() as conn:
            return rules.live_hold(read_slot(conn, self._table, key), nonce, now)

    def release_hold(self, key: SlotKey, nonce: str, now: str) -> None:
        """Clear the hold with ``nonce`` if the slot still carries it: one ``UPDATE``. No row
        changed needs no read: the domain's ``release`` has nothing to do for such a slot."""
        with self._db.write() as conn:
            apply(conn, self._table, key, rules.release_write(nonce), "", now)

    def book(self, request: BookingRequest, now: str) -> BookingResult:
        """Book the slot: one ``UPDATE ... RETURNING`` under ``FREE`` or the user's own live
        hold (under ``HELD_LIVE_BY`` that hold given ``hold_nonce``); on no row, the domain's
        answer to the row as it is."""
        user_id, motivo, hold_nonce = request.user_id, request.motivo, request.hold_nonce
        first: Write | tuple[Write, ...] = rules.booking_write(user_id, motivo, now, hold_nonce)
        if hold_nonce is None:
            first = rules.with_own_hold(first)
        with self._db.write() as conn:
            done = settle(
                conn,
                self._table,
                request.key,
                first,
                lambda slot: rules.book(slot, user_id, motivo, now, hold_nonce),
                user_id,
                now,
            )
        return BookingResult(done.slot, created=done.created)

    def cancel(self, key: SlotKey, user_id: str, now: str | None = None) -> Slot:
        """Free the user's booking or live hold: one ``UPDATE`` under ``BOOKED_BY`` or
        ``HELD_LIVE_BY``; on no row, the domain's answer (the slot kept as it is, or the
        problem)."""
        at = resolve_now(now)
        with self._db.write() as conn:
            done = settle(
                conn,
                self._table,
                key,
                rules.with_own_hold(rules.cancel_write()),
                lambda slot: rules.cancel(slot, user_id, at),
                user_id,
                at,
            )
        return done.slot

    def reschedule(self, user_id: str, source: SlotKey, target: SlotKey, now: str) -> Slot:
        """Move the booking all or nothing: read both slots, ask the domain, take the target
        then free the source (an error rolls the transaction back)."""
        rules.require_distinct(source, target)
        with self._db.write() as conn:
            old = read_slot(conn, self._table, source)
            new = read_slot(conn, self._table, target)
            answer = rules.reschedule(old, new, user_id, now)
            if isinstance(answer, Keep):
                return answer.slot
            # Both writes keep their conditions although the reads above decided: they are the
            # guard that makes this code fail loudly (a rollback) rather than write over a booking.
            moved = apply(conn, self._table, target, answer.take, user_id, now)
            if moved is None:  # pragma: no cover - the write lock keeps both rows as read
                raise rules.target_problem(read_slot(conn, self._table, target))
            if apply(conn, self._table, source, answer.release, user_id, now) is None:
                raise rules.source_problem(read_slot(conn, self._table, source))  # pragma: no cover
        return moved
