"""What each caller is shown of the tools (``tools/list``), and the one check its listing
implies that the registered schema cannot make.

Every tool is registered once, with ``user_id`` optional (a user token acts for its bound
user). What a caller sees depends on who it is:
- a user token: the public tools, and the user tools of its scopes (``appointments``,
  ``sessions``), each without ``user_id`` (the model never sees, nor chooses, a user);
- an API key that acts for any user it names (an agent key in ``HEALTH_API_AGENT_ACCESS=all``,
  an admin key): every tool, ``user_id`` required where a tool takes it (as before tokens);
- an agent key in ``public`` mode: the public tools only (every user tool would refuse it).

Hiding a tool is a courtesy, not the rule: a call to an unlisted tool still reaches its
service, which refuses it (``insufficient-scope``, ``forbidden``) through ``domain.caller``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mcp.types import Tool as MCPTool
from pydantic import create_model

from health_api.domain.caller import ANY_USER, APPOINTMENTS, SESSIONS, Caller
from health_api.mcp.arguments import UserId

USER_ID = "user_id"
# The scope each user tool needs; a tool not named here is public (doctors, schedules,
# availability). A test checks that every tool taking ``user_id`` is named.
TOOL_SCOPES = {
    "hold_slot": APPOINTMENTS,
    "release_hold": APPOINTMENTS,
    "book_appointment": APPOINTMENTS,
    "cancel_appointment": APPOINTMENTS,
    "reschedule_appointment": APPOINTMENTS,
    "list_appointments": APPOINTMENTS,
    "get_session": SESSIONS,
    "save_session": SESSIONS,
}
# ``user_id`` as an API key's listing shows it: a required string (the schema of v1).
_KEY_USER_ID = create_model("KeyUserId", user_id=(UserId, ...)).model_json_schema()["properties"][
    USER_ID
]


@dataclass(frozen=True)
class ToolViews:
    """One tool's input schema as a key and as a user token see it."""

    scope: str | None
    for_key: dict[str, Any]
    for_token: dict[str, Any]


def views_of(schemas: Mapping[str, dict[str, Any]]) -> dict[str, ToolViews]:
    """Each tool's views, from its registered input schema (``user_id`` optional in it)."""
    return {
        name: ToolViews(TOOL_SCOPES.get(name), _user_required(schema), _without_user(schema))
        for name, schema in schemas.items()
    }


def listed_for(
    caller: Caller, tools: list[MCPTool], views: Mapping[str, ToolViews]
) -> list[MCPTool]:
    """The tools ``caller`` is shown, each with the input schema it should fill in."""
    shown = []
    for tool in tools:
        view = views[tool.name]
        if not may_use(caller, view.scope):
            continue
        schema = view.for_token if caller.is_user else view.for_key
        shown.append(tool.model_copy(update={"input_schema": schema}))
    return shown


def may_use(caller: Caller, scope: str | None) -> bool:
    """Whether a tool of ``scope`` (None: public) is for ``caller``: a token with that scope,
    a key that acts for users with it."""
    if scope is None:
        return True
    if caller.is_user:
        return caller.may(scope)
    return caller.may(scope) and caller.may(ANY_USER)


def missing_user(caller: Caller, view: ToolViews | None, arguments: Mapping[str, Any]) -> bool:
    """Whether a key that was shown ``user_id`` as required called without it (the listing's
    rule, answered as the schema refusal it was before tokens)."""
    if view is None or caller.is_user or not may_use(caller, view.scope):
        return False
    return USER_ID in view.for_key.get("properties", {}) and arguments.get(USER_ID) is None


def _user_required(schema: dict[str, Any]) -> dict[str, Any]:
    properties = schema.get("properties", {})
    if USER_ID not in properties:
        return schema
    shown = copy.deepcopy(schema)
    shown["properties"][USER_ID] = copy.deepcopy(_KEY_USER_ID)
    required = {*shown.get("required", ()), USER_ID}
    shown["required"] = [name for name in shown["properties"] if name in required]
    return shown


def _without_user(schema: dict[str, Any]) -> dict[str, Any]:
    if USER_ID not in schema.get("properties", {}):
        return schema
    shown = copy.deepcopy(schema)
    del shown["properties"][USER_ID]
    required = [name for name in shown.get("required", ()) if name != USER_ID]
    if required:
        shown["required"] = required
    else:
        shown.pop("required", None)
    return shown
