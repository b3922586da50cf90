"""The stored states of a slot that the domain's tables and properties run over.

One acting user (``USER``) and one other (``OTHER``); every instant is relative to ``NOW``, the
request's instant. A slot may start in the future or in the past (``FUTURE``/``PAST``): the
actions answer the same for both, since the past is the service's check (``require_future``),
made before storage is asked.
"""

from __future__ import annotations

from itertools import product

from health_api.domain.models import BLOQUEADO, DISPONIBLE, RESERVADO, RETENIDO, Slot, SlotKey

NOW = "2026-12-01T08:00:00Z"
EARLIER = "2026-12-01T07:55:00Z"  # a lapsed hold's expiry, an older booking's stamp
LATER = "2026-12-01T08:05:00Z"  # a live hold's expiry
EXPIRY = "2026-12-01T08:10:00Z"  # the expiry a new hold asks for
FUTURE = "2026-12-02T09:00:00Z"
PAST = "2026-11-30T09:00:00Z"
OTHER_TIME = "2026-12-02T09:30:00Z"  # the other slot of a reschedule
DOCTOR = "doc-1"

USER = "ana"
OTHER = "bea"
USER_NONCE = "n-ana"  # the nonce of the user's stored hold
OTHER_NONCE = "n-bea"
NEW_NONCE = "n-new"  # the nonce a new hold is asked under
WRONG_NONCE = "n-wrong"
MOTIVO = "control"  # the motivo of a new booking
OLD_MOTIVO = "revision"  # the motivo of a stored booking

STATE_NAMES = (
    "missing",
    "free",
    "held live by the user",
    "held live by another",
    "held lapsed by the user",
    "held lapsed by another",
    "booked by the user",
    "booked by the user at now",
    "booked by another",
    "blocked",
)


def _held(fecha_hora: str, user: str, nonce: str, until: str) -> Slot:
    return Slot(
        DOCTOR,
        fecha_hora,
        estado=RETENIDO,
        retenido_por=user,
        retenido_hasta=until,
        retencion=nonce,
    )


def _booked(fecha_hora: str, user: str, at: str, motivo: str | None = OLD_MOTIVO) -> Slot:
    return Slot(DOCTOR, fecha_hora, estado=RESERVADO, user_id=user, motivo=motivo, reservado_en=at)


def state(name: str, fecha_hora: str = FUTURE) -> Slot | None:
    """The slot stored in state ``name`` (one of ``STATE_NAMES``) starting at ``fecha_hora``."""
    return {
        "missing": None,
        "free": Slot(DOCTOR, fecha_hora),
        "held live by the user": _held(fecha_hora, USER, USER_NONCE, LATER),
        "held live by another": _held(fecha_hora, OTHER, OTHER_NONCE, LATER),
        "held lapsed by the user": _held(fecha_hora, USER, USER_NONCE, EARLIER),
        "held lapsed by another": _held(fecha_hora, OTHER, OTHER_NONCE, EARLIER),
        "booked by the user": _booked(fecha_hora, USER, EARLIER),
        "booked by the user at now": _booked(fecha_hora, USER, NOW),
        "booked by another": _booked(fecha_hora, OTHER, EARLIER),
        "blocked": Slot(DOCTOR, fecha_hora, estado=BLOQUEADO),
    }[name]


def key(fecha_hora: str = FUTURE) -> SlotKey:
    """The key of the slot at ``fecha_hora``."""
    return SlotKey(DOCTOR, fecha_hora)


def every_stored_slot() -> list[Slot | None]:
    """Every slot this package can store, as wide as the rules can tell apart: each state with
    each holder, booker, nonce, expiry (before, at and after now), stamp and motivo, in the
    future and in the past; plus no slot."""
    slots: list[Slot | None] = [None]
    for fecha_hora in (FUTURE, PAST):
        slots += [Slot(DOCTOR, fecha_hora), Slot(DOCTOR, fecha_hora, estado=BLOQUEADO)]
        for user, nonce, until in product(
            (USER, OTHER), (USER_NONCE, OTHER_NONCE), (EARLIER, NOW, LATER)
        ):
            slots.append(_held(fecha_hora, user, nonce, until))
        for user, at, motivo in product((USER, OTHER), (EARLIER, NOW), (OLD_MOTIVO, None)):
            slots.append(_booked(fecha_hora, user, at, motivo))
    assert {s.estado for s in slots if s} == {DISPONIBLE, RETENIDO, RESERVADO, BLOQUEADO}
    return slots
