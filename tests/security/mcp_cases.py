"""The MCP side of the BOLA matrix: which tools touch user data (the rule), and for each how to
call it for A, for B or naming no user, per the REST table's cells (``rest_cases``).

**The rule.** A tool touches user data when its input schema, as listed to an agent key in
``all`` mode, has a property (at any depth) named ``user_id`` or ``hold_id``. ``test_bola_mcp``
computes that set from ``tools/list`` and requires it to equal ``TOOL_CASES``; every other tool
must be in ``PUBLIC_TOOLS``.

**The cells** are those of REST: a user token of A (own and none allowed, none acting for A;
other an ``isError`` result ``/problems/other-user``, or ``/problems/not-found`` for B's
``hold_id``), the agent key in ``all`` mode (A and B allowed, none an ``isError``
``/problems/validation`` naming ``user_id``), the agent key in ``public`` mode (``isError``
``/problems/forbidden``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.security.conftest import World
from tests.security.rest_cases import USER_FIELDS

ARGUMENT, HOLD = "argument", "hold"
TARGETS = ("own", "other", "none")
# A user token of A on the server in each agent access mode, and the agent key in each mode.
CREDENTIALS = ("token", "token-public", "agent-all", "agent-public")
# The matrix's cells add a token of A without the tool's scope (``token-narrow``).
CELL_CREDENTIALS = (*CREDENTIALS, "token-narrow")

Arguments = dict[str, Any]
# (world, whose data: "A" or "B", whether the arguments name that user) -> arguments
Builder = Callable[[World, str, bool], Arguments]


def _named(world: World, who: str, named: bool, **arguments: Any) -> Arguments:
    return {**arguments, "user_id": world.users[who]} if named else arguments


def _slot(world: World, fecha_hora: str) -> Arguments:
    return {"doctor_id": world.doctor, "fecha_hora": fecha_hora}


@dataclass(frozen=True)
class ToolCase:
    """One tool that touches user data and how to call it."""

    tool: str
    names: str
    build: Builder

    def targets(self) -> tuple[str, ...]:
        """The targets this tool has: ``none`` only where an argument names the user."""
        return TARGETS if self.names == ARGUMENT else TARGETS[:2]

    @property
    def narrow(self) -> frozenset[str]:
        """The scopes of ``token-narrow``: the user scope this tool does not need."""
        needs = "sessions" if self.tool.endswith("_session") else "appointments"
        return frozenset({"appointments", "sessions"} - {needs})


TOOL_CASES = {
    case.tool: case
    for case in (
        ToolCase(
            "hold_slot",
            ARGUMENT,
            lambda w, who, named: _named(w, who, named, **_slot(w, w.free[who])),
        ),
        ToolCase("release_hold", HOLD, lambda w, who, named: {"hold_id": w.hold_ids[who]}),
        ToolCase(
            "book_appointment",
            ARGUMENT,
            lambda w, who, named: _named(w, who, named, **_slot(w, w.free[who]), motivo="m"),
        ),
        ToolCase(
            "cancel_appointment",
            ARGUMENT,
            lambda w, who, named: _named(w, who, named, **_slot(w, w.booked[who])),
        ),
        ToolCase(
            "reschedule_appointment",
            ARGUMENT,
            lambda w, who, named: _named(
                w, who, named, **{"from": _slot(w, w.booked[who]), "to": _slot(w, w.free[who])}
            ),
        ),
        ToolCase(
            "list_appointments", ARGUMENT, lambda w, who, named: _named(w, who, named, desde=w.day)
        ),
        ToolCase("get_session", ARGUMENT, lambda w, who, named: _named(w, who, named)),
        ToolCase(
            "save_session",
            ARGUMENT,
            lambda w, who, named: _named(w, who, named, data={"nueva": 1}),
        ),
    )
}


@dataclass(frozen=True)
class ToolExpected:
    """What one cell must answer: a success (``problem`` None) or an ``isError`` result of
    ``problem`` type (and for a validation failure, the field its ``errors`` name)."""

    problem: str | None = None
    errors: str | None = None


def expected(case: ToolCase, credential: str, target: str) -> ToolExpected:
    """The contract's answer for ``case`` called by ``credential`` for ``target``."""
    if credential == "agent-public":
        return ToolExpected("/problems/forbidden")
    if credential == "token-narrow":  # the scope is judged before whom the call names
        return ToolExpected("/problems/insufficient-scope")
    if credential == "agent-all":
        if target == "none":
            return ToolExpected("/problems/validation", errors="user_id")
        return ToolExpected()
    if target == "other":
        return ToolExpected("/problems/not-found" if case.names == HOLD else "/problems/other-user")
    return ToolExpected()


def cells() -> list[tuple[str, str, str]]:
    """Every (tool, credential, target) cell of the MCP matrix."""
    return [
        (case.tool, credential, target)
        for case in TOOL_CASES.values()
        for credential in CELL_CREDENTIALS
        for target in case.targets()
    ]


# Another user's object reached without naming any user (a token acts for its own user):
# (tool, arguments); each must be an isError result with none of B's data.
OBJECT_CASES: dict[str, tuple[str, Callable[[World], Arguments]]] = {
    "book-B-booked-slot": ("book_appointment", lambda w: _slot(w, w.booked["B"])),
    "book-B-held-slot-with-B-hold-id": (
        "book_appointment",
        lambda w: {**_slot(w, w.held["B"]), "hold_id": w.hold_ids["B"]},
    ),
    "hold-B-held-slot": ("hold_slot", lambda w: _slot(w, w.held["B"])),
    "cancel-B-booking": ("cancel_appointment", lambda w: _slot(w, w.booked["B"])),
    "reschedule-B-booking": (
        "reschedule_appointment",
        lambda w: {"from": _slot(w, w.booked["B"]), "to": _slot(w, w.free["A"])},
    ),
}

# Tools that touch no user data, with their arguments for a world: every credential gets a
# success that carries none of the other user's data.
PUBLIC_TOOLS: dict[str, Callable[[World], Arguments]] = {
    "search_doctors": lambda w: {"especialidad": w.especialidad},
    "find_availability": lambda w: {"especialidad": w.especialidad, "desde": w.day, "hasta": w.day},
    "list_doctor_slots": lambda w: {"doctor_id": w.doctor, "desde": w.day, "hasta": w.day},
}


def touches_user_data(input_schema: dict[str, Any]) -> bool:
    """The rule: a property named ``user_id`` or ``hold_id`` anywhere in the input schema."""
    return _names_user(input_schema)


def _names_user(schema: Any) -> bool:
    if isinstance(schema, list):
        return any(_names_user(part) for part in schema)
    if not isinstance(schema, dict):
        return False
    properties = schema.get("properties")
    if isinstance(properties, dict) and any(name in USER_FIELDS for name in properties):
        return True
    return any(_names_user(value) for value in schema.values())
