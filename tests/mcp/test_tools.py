"""tools/list over Streamable HTTP: the eleven tools an agent sees, each described, with input
schemas whose every argument is described (and exemplified where the arguments module gives
examples), unknown arguments refused by the schema, an output schema, and exact annotations."""

from __future__ import annotations

import typing

import pytest
from pydantic.fields import FieldInfo

from health_api.mcp import arguments
from tests.mcp.conftest import mcp_session

pytestmark = pytest.mark.anyio

READ_ONLY = {"readOnlyHint": True, "openWorldHint": False}
IDEMPOTENT_WRITE = {
    "readOnlyHint": False,
    "destructiveHint": False,
    "idempotentHint": True,
    "openWorldHint": False,
}
ANNOTATIONS = {
    "search_doctors": READ_ONLY,
    "find_availability": READ_ONLY,
    "list_doctor_slots": READ_ONLY,
    "list_appointments": READ_ONLY,
    "get_session": READ_ONLY,
    "hold_slot": IDEMPOTENT_WRITE,
    "release_hold": IDEMPOTENT_WRITE,
    "book_appointment": IDEMPOTENT_WRITE,
    "save_session": IDEMPOTENT_WRITE,
    "cancel_appointment": {**IDEMPOTENT_WRITE, "destructiveHint": True},
    "reschedule_appointment": {**IDEMPOTENT_WRITE, "idempotentHint": False},
}
WRITES = {name for name, hints in ANNOTATIONS.items() if not hints["readOnlyHint"]}
REQUIRED = {
    "search_doctors": {"especialidad"},
    "find_availability": {"especialidad"},
    "list_doctor_slots": {"doctor_id"},
    "list_appointments": {"user_id"},
    "get_session": {"user_id"},
    "hold_slot": {"doctor_id", "fecha_hora", "user_id"},
    "release_hold": {"hold_id"},
    "book_appointment": {"doctor_id", "fecha_hora", "user_id"},
    "save_session": {"user_id", "data"},
    "cancel_appointment": {"doctor_id", "fecha_hora", "user_id"},
    "reschedule_appointment": {"user_id", "from", "to"},
}
# The argument types of health_api/mcp/arguments.py behind each argument name.
ARGUMENT_TYPES = {
    "especialidad": arguments.Especialidad,
    "doctor_id": arguments.DoctorId,
    "user_id": arguments.UserId,
    "fecha_hora": arguments.SlotTime,
    "desde": arguments.Desde,
    "hasta": arguments.Hasta,
    "limit": arguments.Limit,
    "cursor": arguments.Cursor,
    "estado": arguments.Estado,
    "hold_id": arguments.HoldId,
    "motivo": arguments.Motivo,
    "data": arguments.SessionData,
    "idempotency_key": arguments.IdempotencyKey,
}
TTL_TYPES = {"hold_slot": arguments.HoldTtl, "save_session": arguments.SessionTtl}


def examples_of(annotated: object) -> list | None:
    """The ``examples`` the arguments module's ``Field`` gives a type, or None."""
    for meta in typing.get_args(annotated)[1:]:
        if isinstance(meta, FieldInfo):
            return meta.examples
    return None


async def listed_tools(stack) -> dict:
    async with mcp_session(stack) as session:
        return {tool.name: tool for tool in (await session.list_tools()).tools}


async def test_the_server_lists_exactly_the_eleven_tools_each_titled_and_described(stack) -> None:
    tools = await listed_tools(stack)

    assert set(tools) == set(ANNOTATIONS)
    for name, tool in tools.items():
        assert tool.title, name
        # A description an LLM can act on: what it does, when to call it, what errors mean.
        assert len(tool.description or "") > 200, name


async def test_every_tool_carries_exactly_its_annotations(stack) -> None:
    tools = await listed_tools(stack)

    for name, tool in tools.items():
        shown = tool.annotations.model_dump(by_alias=True, exclude_none=True)
        assert shown == ANNOTATIONS[name], name


async def test_every_input_schema_describes_each_argument_and_refuses_unknown_ones(stack) -> None:
    tools = await listed_tools(stack)

    for name, tool in tools.items():
        schema = tool.input_schema
        assert schema["type"] == "object", name
        assert schema["additionalProperties"] is False, name
        assert set(schema.get("required", ())) == REQUIRED[name], name
        for argument, spec in schema["properties"].items():
            assert spec.get("description"), (name, argument)


async def test_arguments_carry_the_examples_of_the_arguments_module(stack) -> None:
    tools = await listed_tools(stack)

    checked = 0
    for name, tool in tools.items():
        for argument, spec in tool.input_schema["properties"].items():
            if argument == "ttl_seconds":
                expected = examples_of(TTL_TYPES[name])
            elif argument in ("from", "to"):
                continue  # a SlotRef: its fields are checked below
            else:
                expected = examples_of(ARGUMENT_TYPES[argument])
            assert spec.get("examples") == expected, (name, argument)
            checked += expected is not None
    assert checked >= 25  # most arguments give an example; a lost one fails above


async def test_reschedule_slots_are_closed_objects_with_described_fields(stack) -> None:
    schema = (await listed_tools(stack))["reschedule_appointment"].input_schema

    for side in ("from", "to"):
        assert schema["properties"][side]["description"]
        assert schema["properties"][side]["$ref"] == "#/$defs/SlotRef"
    slot_ref = schema["$defs"]["SlotRef"]
    assert slot_ref["additionalProperties"] is False
    assert set(slot_ref["required"]) == {"doctor_id", "fecha_hora"}
    for field in ("doctor_id", "fecha_hora"):
        assert slot_ref["properties"][field]["description"]
        assert slot_ref["properties"][field]["examples"] == examples_of(ARGUMENT_TYPES[field])


async def test_writes_take_an_idempotency_key_and_reads_do_not(stack) -> None:
    tools = await listed_tools(stack)

    for name, tool in tools.items():
        has_key = "idempotency_key" in tool.input_schema["properties"]
        assert has_key is (name in WRITES), name


async def test_every_tool_declares_an_output_schema_of_its_rest_shape(stack) -> None:
    tools = await listed_tools(stack)

    for name, tool in tools.items():
        assert tool.output_schema["type"] == "object", name
        assert tool.output_schema["properties"], name
    for name in ("search_doctors", "find_availability", "list_doctor_slots", "list_appointments"):
        assert set(tools[name].output_schema["properties"]) == {"items", "next_cursor"}, name
    assert {"hold_id", "expires_at", "slot"} <= set(tools["hold_slot"].output_schema["properties"])
    for name in ("book_appointment", "cancel_appointment", "reschedule_appointment"):
        properties = tools[name].output_schema["properties"]
        assert {"doctor_id", "fecha_hora", "estado", "user_id", "motivo"} <= set(properties)
    for name in ("get_session", "save_session"):
        properties = tools[name].output_schema["properties"]
        assert {"user_id", "data", "expires_at"} <= set(properties), name
