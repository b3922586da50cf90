"""The REST side of the BOLA matrix: which operations of the OpenAPI document touch user data
(the rule), and, for each operation, how to call it for A, for B, or naming no user, and what an
allowed call answers (the table).

**The rule.** An operation touches user data when a path or query parameter, or a property of
its JSON request body (``$ref`` and nested objects followed), is named ``user_id`` or
``hold_id``. ``test_bola_rest`` computes that set from the served ``/openapi.json`` and requires
it to equal ``USER_CASES``; every other operation must be in ``PUBLIC_CASES`` or
``RESTRICTED_CASES``. A new operation therefore fails the suite until it is placed here.

**The cells** (API.md, "Patient tokens"): credential x target, target ``own`` (names A),
``other`` (names B) or ``none`` (names no user: only where a body or query carries the user; a
path always names one). A user token of A: own and none are allowed (none acts for A); other is
403 ``/problems/other-user``, or 404 when the operation is found by B's ``hold_id``. An agent
key in ``all`` mode: A and B are both allowed (it acts for whom it names); none is a 422 whose
``errors`` name ``user_id`` (a 400 or a 422 for the query of ``cancel_booking``). An agent key
in ``public`` mode: 403 ``/problems/forbidden``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from tests.security.conftest import World

USER_FIELDS = ("user_id", "hold_id")
# Where an operation's user is named: a path segment, the query, the body, or a hold id (path).
PATH, QUERY, BODY, HOLD = "path", "query", "body", "hold"
TARGETS = ("own", "other", "none")
# A user token of A on the service in each agent access mode, and the agent key in each mode.
CREDENTIALS = ("token", "token-public", "agent-all", "agent-public")
# The matrix's cells add a token of A without the operation's scope (``token-narrow``).
CELL_CREDENTIALS = (*CREDENTIALS, "token-narrow")
USER_SCOPES = ("appointments", "sessions")

Request = tuple[str, dict[str, Any] | None]  # URL (with query), JSON body or None
# (world, whose data: "A" or "B", whether the request names that user) -> request
Builder = Callable[[World, str, bool], Request]
# world -> request (an operation called one fixed way)
WorldBuilder = Callable[[World], Request]


def slot_path(world: World, fecha_hora: str, *rest: str) -> str:
    """The path of one of ``world``'s doctor's slots (or of something under it)."""
    path = f"/api/v1/doctors/{world.doctor}/schedules/{quote(fecha_hora, safe='')}"
    return "/".join((path, *rest))


def _named(world: World, who: str, named: bool, **body: Any) -> dict[str, Any]:
    return {**body, "user_id": world.users[who]} if named else body


def _book(world: World, who: str, named: bool) -> Request:
    body = _named(world, who, named, motivo="matriz")
    return slot_path(world, world.free[who], "booking"), body


def _cancel(world: World, who: str, named: bool) -> Request:
    query = f"?user_id={world.users[who]}" if named else ""
    return slot_path(world, world.booked[who], "booking") + query, None


def _reschedule(world: World, who: str, named: bool) -> Request:
    moves = {
        "from": {"doctor_id": world.doctor, "fecha_hora": world.booked[who]},
        "to": {"doctor_id": world.doctor, "fecha_hora": world.free[who]},
    }
    return "/api/v1/appointments/reschedule", _named(world, who, named, **moves)


def _hold(world: World, who: str, named: bool) -> Request:
    body = _named(world, who, named, doctor_id=world.doctor, fecha_hora=world.free[who])
    return "/api/v1/holds", body


def _hold_by_id(world: World, who: str, named: bool) -> Request:
    return f"/api/v1/holds/{world.hold_ids[who]}", None


def _appointments(world: World, who: str, named: bool) -> Request:
    return f"/api/v1/users/{world.users[who]}/appointments?desde={world.day}", None


def _session(body: dict[str, Any] | None) -> Builder:
    def build(world: World, who: str, named: bool) -> Request:
        return f"/api/v1/sessions/{world.users[who]}", body

    return build


def _token(world: World, who: str, named: bool) -> Request:
    return "/api/v1/tokens", _named(world, who, named)


@dataclass(frozen=True)
class RestCase:
    """One operation that touches user data: how it names its user, what an allowed call
    answers (``ok``), and how to build its request. ``issuer_only``: refused (403) to every
    credential of the matrix (none of them is an issuer key)."""

    operation: str
    method: str
    path: str
    names: str
    ok: int
    build: Builder
    issuer_only: bool = False

    def targets(self) -> tuple[str, ...]:
        """The targets this operation has: ``none`` only where a body or query names the user."""
        return TARGETS if self.names in (QUERY, BODY) else TARGETS[:2]

    @property
    def scope(self) -> str | None:
        """The token scope the operation needs (the document's ``x-user-scope``): ``sessions``
        for a session, ``appointments`` for the rest; None for the issuer's operation."""
        if self.issuer_only:
            return None
        return "sessions" if self.path.startswith("/api/v1/sessions") else "appointments"

    @property
    def narrow(self) -> frozenset[str]:
        """The scopes of ``token-narrow``: every user scope but this operation's."""
        return frozenset(s for s in USER_SCOPES if s != (self.scope or USER_SCOPES[1]))


SLOT = "/api/v1/doctors/{doctor_id}/schedules/{fecha_hora}"
SESSION = "/api/v1/sessions/{user_id}"
HOLD_PATH = "/api/v1/holds/{hold_id}"
USER_CASES = {
    case.operation: case
    for case in (
        RestCase("book_slot", "PUT", SLOT + "/booking", BODY, 201, _book),
        RestCase("cancel_booking", "DELETE", SLOT + "/booking", QUERY, 204, _cancel),
        RestCase(
            "reschedule_appointment",
            "POST",
            "/api/v1/appointments/reschedule",
            BODY,
            200,
            _reschedule,
        ),
        RestCase(
            "list_user_appointments",
            "GET",
            "/api/v1/users/{user_id}/appointments",
            PATH,
            200,
            _appointments,
        ),
        RestCase("create_hold", "POST", "/api/v1/holds", BODY, 201, _hold),
        RestCase("get_hold", "GET", HOLD_PATH, HOLD, 200, _hold_by_id),
        RestCase("release_hold", "DELETE", HOLD_PATH, HOLD, 204, _hold_by_id),
        RestCase("put_session", "PUT", SESSION, PATH, 200, _session({"data": {"nueva": 1}})),
        RestCase("get_session", "GET", SESSION, PATH, 200, _session(None)),
        RestCase("patch_session", "PATCH", SESSION, PATH, 200, _session({"data": {"otra": 2}})),
        RestCase("delete_session", "DELETE", SESSION, PATH, 204, _session(None)),
        RestCase("issue_token", "POST", "/api/v1/tokens", BODY, 201, _token, issuer_only=True),
    )
}


@dataclass(frozen=True)
class Expected:
    """What one cell must answer: a status among ``statuses``, a problem of ``problem`` type
    (None: a success), and for a 422 the field its ``errors`` must name."""

    statuses: tuple[int, ...]
    problem: str | None = None
    errors: str | None = None

    @property
    def refused(self) -> bool:
        """A refusal: the body is a problem and nothing may have changed."""
        return self.problem is not None


def expected(case: RestCase, credential: str, target: str) -> Expected:
    """The contract's answer for ``case`` called by ``credential`` for ``target``."""
    if case.issuer_only:
        return Expected((403,), "/problems/forbidden")
    if credential == "agent-public":
        return Expected((403,), "/problems/forbidden")
    if credential == "token-narrow":  # the scope is judged before whom the call names
        return Expected((403,), "/problems/insufficient-scope")
    if credential == "agent-all":
        if target == "none":
            # A body without user_id was always a 422; a query without it was a 400 before
            # user tokens (a query parameter's error), and either names the field.
            statuses = (400, 422) if case.names == QUERY else (422,)
            return Expected(statuses, "/problems/validation", errors="user_id")
        return Expected((case.ok,))
    if target == "other":
        if case.names == HOLD:
            return Expected((404,), "/problems/not-found")
        return Expected((403,), "/problems/other-user")
    return Expected((case.ok,))


def cells() -> list[tuple[str, str, str]]:
    """Every (operation, credential, target) cell of the REST matrix."""
    return [
        (case.operation, credential, target)
        for case in USER_CASES.values()
        for credential in CELL_CREDENTIALS
        for target in case.targets()
    ]


# Another user's object reached without naming any user (a token acts for its own user): B's
# booking or hold by its slot, or B's hold id. (operation, request builder); each must be a
# refusal among 403, 404 and 409 (409: the slot is someone else's) with none of B's data.
OBJECT_CASES: dict[str, tuple[str, WorldBuilder]] = {
    "book-B-booked-slot": (
        "book_slot",
        lambda w: (slot_path(w, w.booked["B"], "booking"), {"motivo": "intruso"}),
    ),
    "book-B-held-slot-with-B-hold-id": (
        "book_slot",
        lambda w: (slot_path(w, w.held["B"], "booking"), {"hold_id": w.hold_ids["B"]}),
    ),
    "hold-B-held-slot": (
        "create_hold",
        lambda w: ("/api/v1/holds", {"doctor_id": w.doctor, "fecha_hora": w.held["B"]}),
    ),
    "cancel-B-booking": (
        "cancel_booking",
        lambda w: (slot_path(w, w.booked["B"], "booking"), None),
    ),
    "reschedule-B-booking": (
        "reschedule_appointment",
        lambda w: (
            "/api/v1/appointments/reschedule",
            {
                "from": {"doctor_id": w.doctor, "fecha_hora": w.booked["B"]},
                "to": {"doctor_id": w.doctor, "fecha_hora": w.free["A"]},
            },
        ),
    ),
}

# Operations that touch no user data: (method, path, URL builder). They answer 200 to every
# credential of the matrix; ``jwks`` is in the document only where the app serves it.
PublicBuilder = Callable[[World], str]
PUBLIC_CASES: dict[str, tuple[str, str, PublicBuilder]] = {
    "healthz": ("GET", "/healthz", lambda w: "/healthz"),
    "readyz": ("GET", "/readyz", lambda w: "/readyz"),
    "openapi": ("GET", "/openapi.json", lambda w: "/openapi.json"),
    "docs": ("GET", "/docs", lambda w: "/docs"),
    "jwks": ("GET", "/.well-known/jwks.json", lambda w: "/.well-known/jwks.json"),
    "list_doctors": (
        "GET",
        "/api/v1/doctors",
        lambda w: f"/api/v1/doctors?especialidad={w.especialidad}",
    ),
    "get_doctor": ("GET", "/api/v1/doctors/{doctor_id}", lambda w: f"/api/v1/doctors/{w.doctor}"),
    "list_slots": (
        "GET",
        "/api/v1/doctors/{doctor_id}/schedules",
        lambda w: f"/api/v1/doctors/{w.doctor}/schedules?desde={w.day}&hasta={w.day}",
    ),
    "list_availability": (
        "GET",
        "/api/v1/availability",
        lambda w: f"/api/v1/availability?especialidad={w.especialidad}&desde={w.day}&hasta={w.day}",
    ),
}
OPTIONAL_PUBLIC = {"jwks"}

# Operations for admin keys only: every credential of the matrix gets a 403 that changes
# nothing. (method, path, request builder)
RESTRICTED_CASES: dict[str, tuple[str, str, WorldBuilder]] = {
    "create_doctor": (
        "POST",
        "/api/v1/doctors",
        lambda w: ("/api/v1/doctors", {"nombre": "Dr. Intruso", "especialidad": w.especialidad}),
    ),
    "update_doctor": (
        "PATCH",
        "/api/v1/doctors/{doctor_id}",
        lambda w: (f"/api/v1/doctors/{w.doctor}", {"centro": "Otro"}),
    ),
    "delete_doctor": (
        "DELETE",
        "/api/v1/doctors/{doctor_id}",
        lambda w: (f"/api/v1/doctors/{w.doctor}", None),
    ),
    "add_slots": (
        "POST",
        "/api/v1/doctors/{doctor_id}/schedules",
        lambda w: (
            f"/api/v1/doctors/{w.doctor}/schedules",
            {"slots": [{"fecha_hora": f"{w.day}T15:00:00Z"}]},
        ),
    ),
    "delete_slot": ("DELETE", SLOT, lambda w: (slot_path(w, w.free["A"]), None)),
    "get_tables": ("GET", "/api/v1/admin/tables", lambda w: ("/api/v1/admin/tables", None)),
    "load_seed": ("POST", "/api/v1/admin/seed", lambda w: ("/api/v1/admin/seed", None)),
    "remove_seed": ("DELETE", "/api/v1/admin/seed", lambda w: ("/api/v1/admin/seed", None)),
}


def touches_user_data(operation: dict[str, Any], item: dict[str, Any], doc: dict) -> bool:
    """The rule: a parameter (path or query) or a request body property, at any depth, named
    ``user_id`` or ``hold_id``."""
    for parameter in [*item.get("parameters", []), *operation.get("parameters", [])]:
        if parameter.get("in") in ("path", "query") and parameter.get("name") in USER_FIELDS:
            return True
    content = operation.get("requestBody", {}).get("content", {})
    return any(_names_user(media.get("schema", {}), doc, set()) for media in content.values())


def _names_user(schema: Any, doc: dict, seen: set[str]) -> bool:
    if isinstance(schema, list):
        return any(_names_user(part, doc, seen) for part in schema)
    if not isinstance(schema, dict):
        return False
    ref = schema.get("$ref")
    if isinstance(ref, str):
        if ref in seen:
            return False
        seen.add(ref)
        target: Any = doc
        for part in ref.lstrip("#/").split("/"):
            target = target.get(part, {})
        return _names_user(target, doc, seen)
    if any(name in USER_FIELDS for name in schema.get("properties", {})):
        return True
    return any(_names_user(value, doc, seen) for value in schema.values())
