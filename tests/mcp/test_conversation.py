"""A chatbot's whole conversation through the tools, over Streamable HTTP on both engines: search,
offer, hold, book, list, reschedule, cancel; each result checked against its output schema and
against what REST shows of the same slot; a taken slot answered with alternatives; and REST and
MCP accepting each other's holds on one store."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime

import pytest
from jsonschema import Draft202012Validator

from health_api import create_app
from tests.api.conftest import AGENT
from tests.api.helpers import slot_url
from tests.mcp.conftest import mcp_session, ok, problem, slot_arguments

pytestmark = pytest.mark.anyio


def plain(text: str) -> str:
    """``text`` lower-cased without accents (what an agent may well send)."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@pytest.fixture
def rest(stack):
    """A REST test client on the same store, settings and keys as the MCP server."""
    return create_app({"settings": stack.settings, "storage": stack.storage}).test_client()


def rest_slot(rest, doctor_id: str, fecha_hora: str) -> dict:
    """The slot as REST's schedule listing shows it to an agent key."""
    query = {"desde": fecha_hora, "hasta": fecha_hora}
    response = rest.get(f"/api/v1/doctors/{doctor_id}/schedules", query_string=query, headers=AGENT)
    assert response.status_code == 200, response.get_data(as_text=True)
    [item] = response.get_json()["items"]
    return item


class Caller:
    """Calls tools on one session and checks each success against the tool's output schema."""

    def __init__(self, session, tools) -> None:
        self.session = session
        self.validators = {t.name: Draft202012Validator(t.output_schema) for t in tools}

    async def __call__(self, tool: str, **arguments) -> dict:
        data = ok(await self.session.call_tool(tool, arguments))
        self.validators[tool].validate(data)
        return data


async def test_a_conversation_finds_holds_books_lists_reschedules_and_cancels(
    stack, clinic, rest
) -> None:
    user = clinic.user()
    first, second = clinic.doctors
    async with mcp_session(stack) as session:
        call = Caller(session, (await session.list_tools()).tools)

        doctors = await call("search_doctors", especialidad=plain(clinic.especialidad))
        assert sorted(d["doctor_id"] for d in doctors["items"]) == [first, second]
        assert {d["especialidad"] for d in doctors["items"]} == {clinic.especialidad}

        offer = await call("find_availability", especialidad=plain(clinic.especialidad), limit=3)
        assert len(offer["items"]) == 3
        assert offer["next_cursor"] is not None
        starts = [item["fecha_hora"] for item in offer["items"]]
        assert starts == sorted(starts)
        assert starts[0] == clinic.times[0]
        slot = offer["items"][0]
        assert slot["estado"] == "disponible"
        assert slot["nombre"].startswith("Dra. Prueba")
        assert slot["zona_horaria"] == stack.settings.timezone
        assert "user_id" not in slot
        doctor_id, fecha_hora = slot["doctor_id"], slot["fecha_hora"]

        hold = await call("hold_slot", doctor_id=doctor_id, fecha_hora=fecha_hora, user_id=user)
        assert (hold["doctor_id"], hold["fecha_hora"], hold["user_id"]) == (
            doctor_id,
            fecha_hora,
            user,
        )
        assert hold["expires_at"] > datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        assert hold["slot"]["estado"] == "retenido"
        assert rest_slot(rest, doctor_id, fecha_hora)["estado"] == "retenido"

        booked = await call(
            "book_appointment",
            doctor_id=doctor_id,
            fecha_hora=fecha_hora,
            user_id=user,
            motivo="revisión anual",
            hold_id=hold["hold_id"],
        )
        assert (booked["estado"], booked["user_id"], booked["motivo"]) == (
            "reservado",
            user,
            "revisión anual",
        )
        assert booked["retenido_hasta"] is None
        assert rest_slot(rest, doctor_id, fecha_hora)["estado"] == "reservado"
        # REST's safe retry of the same booking answers the very same document.
        again = rest.put(
            slot_url(doctor_id, fecha_hora, "booking"),
            json={"user_id": user, "motivo": "revisión anual"},
            headers=AGENT,
        )
        assert again.status_code == 200
        assert again.get_json() == booked

        listed = await call("list_appointments", user_id=user)
        assert listed["items"] == [booked]

        target = {"doctor_id": second, "fecha_hora": clinic.times[1]}
        moved = await call(
            "reschedule_appointment",
            user_id=user,
            **{"from": {"doctor_id": doctor_id, "fecha_hora": fecha_hora}, "to": target},
        )
        assert (moved["doctor_id"], moved["fecha_hora"]) == (second, clinic.times[1])
        assert (moved["estado"], moved["user_id"]) == ("reservado", user)
        assert rest_slot(rest, doctor_id, fecha_hora)["estado"] == "disponible"
        assert rest_slot(rest, second, clinic.times[1])["estado"] == "reservado"
        listed = await call("list_appointments", user_id=user)
        assert [(a["doctor_id"], a["fecha_hora"]) for a in listed["items"]] == [
            (second, clinic.times[1])
        ]

        cancelled = await call("cancel_appointment", user_id=user, **target)
        assert (cancelled["doctor_id"], cancelled["fecha_hora"]) == (second, clinic.times[1])
        assert cancelled["estado"] == "disponible"
        assert cancelled["user_id"] is None
        assert rest_slot(rest, second, clinic.times[1])["estado"] == "disponible"
        assert (await call("list_appointments", user_id=user))["items"] == []


async def test_a_released_hold_frees_the_slot_for_everyone(stack, clinic, rest) -> None:
    slot = slot_arguments(clinic, clinic.user())
    async with mcp_session(stack) as session:
        hold = ok(await session.call_tool("hold_slot", slot))
        released = ok(await session.call_tool("release_hold", {"hold_id": hold["hold_id"]}))
        other = ok(await session.call_tool("hold_slot", {**slot, "user_id": clinic.user("otro")}))

    assert released == {"hold_id": hold["hold_id"], "released": True}
    assert other["user_id"] == clinic.user("otro")
    assert rest_slot(rest, slot["doctor_id"], slot["fecha_hora"])["estado"] == "retenido"


async def test_a_slot_held_by_another_user_is_taken_with_alternatives_in_text_and_structure(
    stack, clinic
) -> None:
    async with mcp_session(stack) as session:
        ok(await session.call_tool("hold_slot", slot_arguments(clinic, clinic.user("ana"))))
        result = await session.call_tool(
            "book_appointment", slot_arguments(clinic, clinic.user("luis"))
        )

    body = problem(result, "slot-taken", 409)
    alternatives = [(a["doctor_id"], a["fecha_hora"]) for a in body["alternativas"]]
    assert alternatives == [(clinic.doctors[0], t) for t in clinic.times[1:]]
    text = result.content[0].text
    for doctor_id, fecha_hora in alternatives:
        assert f"doctor_id={doctor_id} fecha_hora={fecha_hora}" in text
    assert clinic.user("ana") not in text
    assert clinic.user("luis") not in text


async def test_a_slot_booked_by_another_user_cannot_be_held(stack, clinic) -> None:
    async with mcp_session(stack) as session:
        ok(await session.call_tool("book_appointment", slot_arguments(clinic, clinic.user("ana"))))
        result = await session.call_tool("hold_slot", slot_arguments(clinic, clinic.user("luis")))

    body = problem(result, "slot-taken", 409)
    assert [a["fecha_hora"] for a in body["alternativas"]] == list(clinic.times[1:])
    assert all(a["estado"] == "disponible" for a in body["alternativas"])


async def test_a_hold_taken_through_mcp_is_booked_through_rest(stack, clinic, rest) -> None:
    user = clinic.user()
    slot = slot_arguments(clinic, user)
    async with mcp_session(stack) as session:
        hold = ok(await session.call_tool("hold_slot", slot))

    response = rest.put(
        slot_url(slot["doctor_id"], slot["fecha_hora"], "booking"),
        json={"user_id": user, "hold_id": hold["hold_id"]},
        headers=AGENT,
    )

    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["estado"] == "reservado"
    # The hold was consumed by the booking.
    assert rest.get(f"/api/v1/holds/{hold['hold_id']}", headers=AGENT).status_code == 404


async def test_a_hold_taken_through_rest_is_booked_through_mcp(stack, clinic, rest) -> None:
    user = clinic.user()
    slot = slot_arguments(clinic, user, doctor=1, at=2)
    response = rest.post("/api/v1/holds", json=slot, headers=AGENT)
    assert response.status_code == 201, response.get_data(as_text=True)
    hold_id = response.get_json()["hold_id"]

    async with mcp_session(stack) as session:
        booked = ok(await session.call_tool("book_appointment", {**slot, "hold_id": hold_id}))

    assert (booked["estado"], booked["user_id"]) == ("reservado", user)
    assert rest_slot(rest, slot["doctor_id"], slot["fecha_hora"])["estado"] == "reservado"
