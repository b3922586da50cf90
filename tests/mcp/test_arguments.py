"""Wrong arguments are ``isError`` results naming the field (never a protocol error), whether the
input schema refuses them or only parsing can (times); and a hold that expired (the clock moved by
freezegun past ``expires_at``) is ``hold-invalid`` with advice that works when followed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from freezegun import freeze_time
from mcp import Client

from tests.mcp.conftest import mcp_session, ok, problem, slot_arguments

pytestmark = pytest.mark.anyio

LATER = "2030-01-07T10:00:00Z"


def refused(result, field: str) -> dict:
    """A validation failure whose ``errors`` name ``field`` (and the text too)."""
    body = problem(result, "validation", 422)
    assert field in body["errors"], body
    assert body["errors"][field]
    assert all(isinstance(m, str) for m in body["errors"][field])
    assert f"`{field}`" in result.content[0].text
    return body


@pytest.mark.parametrize(
    ("tool", "arguments", "field"),
    [
        pytest.param("find_availability", {"especialidad": "x", "limit": 0}, "limit", id="limit-0"),
        pytest.param(
            "search_doctors", {"especialidad": "x", "limit": 101}, "limit", id="limit-101"
        ),
        pytest.param("get_session", {}, "user_id", id="missing"),
        pytest.param(
            "hold_slot",
            {"doctor_id": "d", "fecha_hora": LATER, "user_id": "u", "motivo": "x"},
            "motivo",
            id="unknown-argument",
        ),
        pytest.param(
            "book_appointment",
            {"doctor_id": "d", "fecha_hora": "mañana", "user_id": "u"},
            "fecha_hora",
            id="fecha-hora-manana",
        ),
        pytest.param(
            "book_appointment",
            {"doctor_id": "d", "fecha_hora": LATER, "user_id": "ana / 3"},
            "user_id",
            id="user-id-pattern",
        ),
        pytest.param(
            "reschedule_appointment",
            {"user_id": "u", "from": {"doctor_id": "d", "fecha_hora": LATER, "sala": 1}},
            "from.sala",
            id="unknown-nested",
        ),
        pytest.param(
            "save_session", {"user_id": "u", "data": "paso 2"}, "data", id="data-not-object"
        ),
        pytest.param(
            "cancel_appointment",
            {"doctor_id": "d", "fecha_hora": LATER, "user_id": "u", "idempotency_key": ""},
            "idempotency_key",
            id="empty-idempotency-key",
        ),
    ],
)
async def test_an_argument_the_schema_refuses_is_an_error_naming_it(
    stack, tool, arguments, field
) -> None:
    async with mcp_session(stack) as session:
        result = await session.call_tool(tool, arguments)

    refused(result, field)


@pytest.mark.parametrize(
    ("tool", "arguments", "field"),
    [
        pytest.param(
            "hold_slot",
            {"doctor_id": "d", "fecha_hora": "mañana a las diez", "user_id": "u"},
            "fecha_hora",
            id="fecha-hora",
        ),
        pytest.param(
            "find_availability",
            {"especialidad": "x", "desde": "ayer por la tarde"},
            "desde",
            id="desde",
        ),
        pytest.param(
            "reschedule_appointment",
            {
                "user_id": "u",
                "from": {"doctor_id": "d", "fecha_hora": LATER},
                "to": {"doctor_id": "d", "fecha_hora": "el lunes a las 10"},
            },
            "to.fecha_hora",
            id="to-fecha-hora",
        ),
        pytest.param(
            "find_availability",
            {"especialidad": "x", "desde": LATER, "hasta": "2030-03-07T10:00:00Z"},
            "hasta",
            id="window-too-long",
        ),
    ],
)
async def test_a_time_that_does_not_parse_is_an_error_naming_the_field(
    stack, tool, arguments, field
) -> None:
    async with mcp_session(stack) as session:
        result = await session.call_tool(tool, arguments)

    refused(result, field)


async def test_an_unknown_tool_is_an_error_result_not_a_broken_session(stack) -> None:
    async with mcp_session(stack) as session:
        result = await session.call_tool("book_flight", {"destino": "Madrid"})
        after = await session.call_tool("get_session", {"user_id": "nadie-nunca"})

    assert result.is_error
    assert "book_flight" in result.content[0].text
    problem(after, "not-found", 404)


async def test_a_tampered_cursor_is_an_invalid_cursor_error(stack, clinic) -> None:
    especialidad = clinic.especialidad
    async with mcp_session(stack) as session:
        page = ok(await session.call_tool("find_availability", {"especialidad": especialidad}))
        first = ok(
            await session.call_tool("find_availability", {"especialidad": especialidad, "limit": 1})
        )
        cursor = first["next_cursor"][:-2] + ("AA" if first["next_cursor"][-2:] != "AA" else "BB")
        result = await session.call_tool(
            "find_availability", {"especialidad": especialidad, "cursor": cursor}
        )

    assert len(page["items"]) == 8
    body = problem(result, "invalid-cursor", 400)
    assert "cursor" in body["errors"]


async def test_an_expired_hold_is_hold_invalid_and_holding_again_lets_the_user_book(
    stack, clinic
) -> None:
    user = clinic.user()
    slot = slot_arguments(clinic, user, at=3)
    server = stack.in_memory()
    with freeze_time(datetime.now(UTC), real_asyncio=True) as frozen:
        async with Client(server) as client:
            hold = ok(await client.call_tool("hold_slot", {**slot, "ttl_seconds": 30}))
            expires_at = datetime.fromisoformat(hold["expires_at"].replace("Z", "+00:00"))
            frozen.move_to(expires_at + timedelta(seconds=1))

            expired = await client.call_tool(
                "book_appointment", {**slot, "hold_id": hold["hold_id"]}
            )
            listed = ok(
                await client.call_tool(
                    "list_doctor_slots",
                    {
                        "doctor_id": slot["doctor_id"],
                        "desde": slot["fecha_hora"],
                        "hasta": slot["fecha_hora"],
                    },
                )
            )
            again = ok(await client.call_tool("hold_slot", slot))
            booked = ok(
                await client.call_tool("book_appointment", {**slot, "hold_id": again["hold_id"]})
            )

    problem(expired, "hold-invalid", 409)
    assert "hold_slot again" in expired.content[0].text
    assert listed["items"][0]["estado"] == "disponible"  # an expired hold holds nothing
    assert again["hold_id"] != hold["hold_id"]
    assert (booked["estado"], booked["user_id"]) == ("reservado", user)
