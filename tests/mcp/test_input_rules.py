"""The v1.2 input rules through the tools: ids are whole ASCII values (a trailing newline or a
look-alike letter is a validation error naming the argument, and the input schemas say so),
desde/hasta take a plain date (the clinic's whole day) and explain a bad value, an unknown doctor
is ``doctor-not-found``, and cancelling another user's booking is ``not-your-booking``."""

from __future__ import annotations

import pytest

from tests.mcp.conftest import mcp_session, ok, problem, slot_arguments

pytestmark = pytest.mark.anyio

ID_SCHEMA_PATTERN = "^[A-Za-z0-9._@:+-]{1,128}$"


def refused(result, field: str) -> dict:
    """A validation failure naming ``field`` (its text too)."""
    body = problem(result, "validation", 422)
    assert field in body["errors"], body
    assert field in result.content[0].text
    return body


async def test_every_id_argument_has_the_anchored_ascii_pattern(stack) -> None:
    async with mcp_session(stack) as session:
        tools = (await session.list_tools()).tools

    patterns = {}
    for tool in tools:
        schema = tool.input_schema
        for name in ("doctor_id", "user_id"):
            if name in schema["properties"]:
                patterns[(tool.name, name)] = schema["properties"][name].get("pattern")
    assert len(patterns) >= 8
    assert set(patterns.values()) == {ID_SCHEMA_PATTERN}


@pytest.mark.parametrize(
    ("argument", "value"),
    [
        pytest.param("user_id", "{user}\n", id="user-trailing-newline"),
        pytest.param("user_id", "us\u0435r-{user}", id="user-cyrillic-e"),
        pytest.param("user_id", "\u00fcser-{user}", id="user-accented"),
        pytest.param("doctor_id", "{doctor}\n", id="doctor-trailing-newline"),
        pytest.param("doctor_id", "mcp-\u0430", id="doctor-cyrillic-a"),
    ],
)
async def test_an_id_that_is_not_a_whole_ascii_id_is_refused_naming_it(
    stack, clinic, argument, value
) -> None:
    user = clinic.user()
    slot = slot_arguments(clinic, user)
    bad = value.format(user=user, doctor=slot["doctor_id"])
    async with mcp_session(stack) as session:
        booked = await session.call_tool("book_appointment", {**slot, argument: bad})
        listed = ok(
            await session.call_tool(
                "list_doctor_slots",
                {"doctor_id": slot["doctor_id"], "desde": slot["fecha_hora"]},
            )
        )

    refused(booked, argument)
    assert listed["items"][0]["estado"] == "disponible"


async def test_a_plain_date_is_the_clinics_whole_day(stack, clinic) -> None:
    day = clinic.times[0][:10]
    async with mcp_session(stack) as session:
        slots = ok(
            await session.call_tool(
                "list_doctor_slots",
                {"doctor_id": clinic.doctors[0], "desde": day, "hasta": day},
            )
        )
        free = ok(
            await session.call_tool(
                "find_availability",
                {"especialidad": clinic.especialidad, "desde": day, "hasta": day},
            )
        )

    assert [s["fecha_hora"] for s in slots["items"]] == list(clinic.times)
    assert len(free["items"]) == len(clinic.times) * len(clinic.doctors)


@pytest.mark.parametrize("value", ["tomorrow", "mañana", "05/12/2026"])
@pytest.mark.parametrize("argument", ["desde", "hasta"])
async def test_a_window_bound_that_is_no_time_shows_the_accepted_forms(
    stack, clinic, argument, value
) -> None:
    async with mcp_session(stack) as session:
        result = await session.call_tool(
            "find_availability", {"especialidad": clinic.especialidad, argument: value}
        )

    body = refused(result, argument)
    assert "2026-12-05" in body["errors"][argument][0]
    assert "2026-12-05" in result.content[0].text


async def test_the_slots_of_an_unknown_doctor_are_doctor_not_found(stack, clinic) -> None:
    user = clinic.user()
    slot = {**slot_arguments(clinic, user), "doctor_id": f"nadie-{clinic.token}"}
    async with mcp_session(stack) as session:
        listed = await session.call_tool("list_doctor_slots", {"doctor_id": slot["doctor_id"]})
        held = await session.call_tool("hold_slot", slot)
        booked = await session.call_tool("book_appointment", slot)
        cancelled = await session.call_tool("cancel_appointment", slot)
        empty = ok(
            await session.call_tool(
                "list_doctor_slots", {"doctor_id": clinic.doctors[0], "estado": "reservado"}
            )
        )

    for result in (listed, held, booked, cancelled):
        problem(result, "doctor-not-found", 404)
        assert "search_doctors" in result.content[0].text
    assert empty["items"] == []  # a known doctor's empty page stays a page


async def test_an_unknown_slot_of_a_known_doctor_stays_not_found(stack, clinic) -> None:
    slot = {**slot_arguments(clinic, clinic.user()), "fecha_hora": "2099-01-01T09:00:00Z"}
    async with mcp_session(stack) as session:
        booked = await session.call_tool("book_appointment", slot)

    problem(booked, "not-found", 404)


async def test_cancelling_another_users_booking_is_not_your_booking(stack, clinic) -> None:
    owner, other = clinic.user("duena"), clinic.user("otro")
    slot = slot_arguments(clinic, owner, at=1)
    async with mcp_session(stack) as session:
        ok(await session.call_tool("book_appointment", slot))
        cancelled = await session.call_tool("cancel_appointment", {**slot, "user_id": other})
        listed = ok(await session.call_tool("list_appointments", {"user_id": owner}))

    body = problem(cancelled, "not-your-booking", 409)
    assert "alternativas" not in body
    assert "list_appointments" in cancelled.content[0].text
    assert [a["fecha_hora"] for a in listed["items"]] == [slot["fecha_hora"]]
