"""The error catalogue: for every domain error, the one entry both surfaces render.

An entry says the HTTP status, the problem type (``/problems/<kind>``), the detail REST shows,
the sentence and the advice an agent reads on MCP, the extra members of the problem document
(``alternativas``, ``reason``, ``errors``...) and whether an idempotency key stores the answer.
REST (``api/problems.py``) renders an entry as ``application/problem+json``; MCP
(``mcp/results.py``) as an ``isError`` result whose text is the sentence plus the advice.

An error is looked up by its class's MRO, so a subclass without an entry of its own
(``StorageAccessError``) answers as its parent. ``internal`` entries are our bugs: each surface
logs them its way and answers only that they are logged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from health_api.domain import errors as e
from health_api.schemas.shapes import slot_public_list

TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}

Fields = dict[str, Any]


def _said(exc: Exception) -> str:
    return str(exc)


def _no_fields(_exc: Any, _zone: ZoneInfo) -> Fields:
    return {}


@dataclass(frozen=True)
class Entry:
    """How one domain error is answered (see the module doc).

    ``detail`` (REST's ``detail``) and ``text`` (MCP's sentence) read the error; ``advice``
    reads the error and its rendered ``fields`` (a taken slot's advice lists its alternatives);
    ``retry_after`` is a ``Retry-After`` header on REST and a ``retry_after`` member on MCP.
    """

    status: int
    kind: str
    text: Callable[[Any], str] = _said
    advice: Callable[[Any, Fields], str] = lambda _exc, _fields: ""
    detail: Callable[[Any], str] = _said
    fields: Callable[[Any, ZoneInfo], Fields] = _no_fields
    retry_after: Callable[[Any], int] | None = None
    # A ``WWW-Authenticate`` challenge REST sends with it (a token missing a scope).
    challenge: Callable[[Any], str] | None = None
    # Answered by the rules after the call ran: stored under an idempotency key like a 2xx.
    stored: bool = True
    internal: bool = False

    @property
    def type(self) -> str:
        """The problem's ``type`` URI."""
        return f"/problems/{self.kind}"

    @property
    def title(self) -> str:
        """The problem's ``title``: the status's reason phrase."""
        return TITLES.get(self.status, "Error")


def _fixed(sentence: str) -> Callable[[Any], str]:
    return lambda _exc: sentence


def _advise(sentence: str) -> Callable[[Any, Fields], str]:
    return lambda _exc, _fields: sentence


def _alternatives(exc: e.SlotTakenError, zone: ZoneInfo) -> Fields:
    return {"alternativas": slot_public_list(exc.alternativas, zone)}


def _alternatives_text(_exc: Any, fields: Fields) -> str:
    alternativas = fields["alternativas"]
    if not alternativas:
        return "No other free slot of this doctor soon: call find_availability for others."
    lines = [
        f"- doctor_id={a['doctor_id']} fecha_hora={a['fecha_hora']} "
        f"(local {a['fecha_hora_local']}, {a['duracion_min']} min)"
        for a in alternativas
    ]
    return (
        "Offer the user one of these free slots of the same doctor instead, then call "
        "hold_slot or book_appointment with it:\n" + "\n".join(lines)
    )


def _not_found(exc: Exception) -> str:
    return f"Not found: {exc}"


INTERNAL = Entry(500, "internal", stored=False, internal=True)

CATALOGUE: dict[type[e.HealthApiError], Entry] = {
    e.StorageUnavailableError: Entry(
        503,
        "storage-unavailable",
        text=_fixed("The appointment store is unavailable right now"),
        advice=lambda exc, _f: f"Nothing was changed. Try again in {exc.retry_after} s.",
        detail=_fixed("the storage is unavailable right now; retry later"),
        retry_after=lambda exc: exc.retry_after,
        stored=False,
    ),
    e.DoctorNotFoundError: Entry(
        404,
        "doctor-not-found",
        text=_not_found,
        advice=_advise(
            "Find the doctor_id with search_doctors or find_availability and use it as given."
        ),
    ),
    e.NotFoundError: Entry(
        404,
        "not-found",
        text=_not_found,
        advice=_advise(
            "Check the ids and times with search_doctors, find_availability or list_doctor_slots."
        ),
        detail=lambda exc: str(exc) or "not found",
    ),
    e.SlotTakenError: Entry(
        409,
        "slot-taken",
        text=_fixed("That slot is taken (booked, or held by another user)"),
        advice=_alternatives_text,
        fields=_alternatives,
    ),
    e.NotYourBookingError: Entry(
        409,
        "not-your-booking",
        text=_fixed("That slot is booked or held by another user, not by this user"),
        advice=_advise(
            "Nothing was cancelled. Check this user's appointments with list_appointments and "
            "cancel one of those (same doctor_id and fecha_hora)."
        ),
    ),
    e.AlreadyBookedError: Entry(
        409,
        "already-booked",
        text=_fixed("This user has already booked this slot"),
        advice=_advise("Nothing to do: it is in list_appointments."),
    ),
    e.HoldLimitError: Entry(
        409,
        "hold-limit",
        text=_fixed("This user already holds as many slots as allowed"),
        advice=_advise("Book one of them, or release one with release_hold, then hold again."),
    ),
    e.HoldInvalidError: Entry(
        409,
        "hold-invalid",
        text=_fixed("The hold_id is expired, or names another slot or user"),
        advice=_advise("Call hold_slot again for this slot (or book without hold_id), then book."),
    ),
    e.RescheduleError: Entry(
        409,
        "reschedule-failed",
        text=lambda exc: f"Nothing was moved: {exc}",
        advice=_advise(
            "Check the user's appointments with list_appointments and pick a free slot with "
            "find_availability or list_doctor_slots."
        ),
        fields=lambda exc, _zone: {"reason": exc.reason},
    ),
    # Only REST deletes doctors: no MCP tool meets it.
    e.DoctorDeletionStoppedError: Entry(
        409,
        "conflict",
        advice=_advise("Read the current state, then decide."),
        fields=lambda exc, _zone: {"slots_eliminados": exc.slots_eliminados},
    ),
    e.ConflictError: Entry(409, "conflict", advice=_advise("Read the current state, then decide.")),
    e.SlotBlockedError: Entry(
        422,
        "slot-blocked",
        text=lambda exc: str(exc) or "The slot is blocked",
        advice=_advise("Pick another slot."),
        detail=lambda exc: str(exc) or "the slot is blocked",
    ),
    e.InvalidCursorError: Entry(
        400,
        "invalid-cursor",
        text=_fixed("The cursor is not valid"),
        advice=_advise("Call again without cursor to start from the first page."),
        fields=lambda exc, _zone: {"errors": {"cursor": [str(exc)]}},
        stored=False,
    ),
    e.MissingUserError: Entry(
        422,
        "validation",
        text=_fixed("user_id is required with an API key"),
        advice=_advise("Name the user the call is for in user_id and call again."),
        detail=_fixed("user_id is required with an API key (a user token names its own user)"),
        fields=lambda exc, _zone: {"errors": {"user_id": [str(exc)]}},
        stored=False,
    ),
    e.InvalidRequestError: Entry(
        422, "invalid-request", advice=_advise("Correct the request and try again.")
    ),
    # Who may act for whom (domain/caller.py): decided before any storage call, never stored.
    e.OtherUserError: Entry(
        403,
        "other-user",
        text=_fixed("This credential acts only for its own user; the call named another user"),
        advice=_advise(
            "Leave user_id out (it defaults to the signed-in user) and act only for that user. "
            "Never act for another user, whoever asks."
        ),
        stored=False,
    ),
    e.InsufficientScopeError: Entry(
        403,
        "insufficient-scope",
        text=lambda exc: f"This credential lacks the scope {exc.scope!r} this call needs",
        advice=_advise("Ask the user to sign in again with that permission; do not retry."),
        challenge=lambda exc: (
            f'Bearer realm="health-api", error="insufficient_scope", scope="{exc.scope}"'
        ),
        stored=False,
    ),
    e.PublicAccessError: Entry(
        403,
        "forbidden",
        text=_fixed("This credential reaches public data only (doctors, schedules, availability)"),
        advice=_advise("A user's appointments, holds and session need that user's token."),
        stored=False,
    ),
    e.AccessError: Entry(
        403,
        "forbidden",
        advice=_advise("This credential may not do this; do not retry."),
        stored=False,
    ),
    # A request the store refused as malformed is our bug: retrying cannot help (a 500, not
    # a 503). Surfaces log it by operation and error code only (a chained botocore error
    # could quote the values sent).
    e.StorageRequestError: INTERNAL,
    e.HealthApiError: INTERNAL,
}

# Statuses of the rules' problems (404, 409, 422): an idempotency key stores them like a 2xx.
STORED_STATUSES = frozenset(entry.status for entry in CATALOGUE.values() if entry.stored)


def entry_for(exc: BaseException | type) -> Entry:
    """The entry answering ``exc`` (an error or an error class): its class's own, else its
    nearest parent's; ``INTERNAL`` for anything that is no domain error."""
    cls = exc if isinstance(exc, type) else type(exc)
    for klass in cls.__mro__:
        entry = CATALOGUE.get(klass)
        if entry is not None:
            return entry
    return INTERNAL
