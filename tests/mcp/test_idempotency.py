"""``idempotency_key`` on write tools: a repeat replays the first result (``_meta`` says so) and
acts once; the same key for another call is refused; keys belong to the API key that sent them.
And ``save_session`` as an upsert beside ``get_session``."""

from __future__ import annotations

import json
import uuid

import httpx2
import pytest
from mcp import Client

from health_api.mcp import replays
from health_api.mcp.replays import REPLAYED_META, RESULT_CONTENT_TYPE
from health_api.mcp.results import PROBLEM_META, status_of
from health_api.services import idempotency
from tests.api.conftest import ADMIN_KEY, AGENT_KEY
from tests.mcp.conftest import mcp_session, ok, problem, slot_arguments

pytestmark = pytest.mark.anyio

STREAMABLE = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
BEARER = {"Authorization": f"Bearer {AGENT_KEY}"}


def new_key() -> str:
    return str(uuid.uuid4())


def replayed(result) -> bool:
    return bool((result.meta or {}).get(REPLAYED_META))


async def test_a_repeated_booking_with_its_key_replays_the_first_result_and_books_once(
    stack, clinic
) -> None:
    user = clinic.user()
    arguments = {**slot_arguments(clinic, user), "motivo": "control", "idempotency_key": new_key()}
    async with mcp_session(stack) as session:
        first = await session.call_tool("book_appointment", arguments)
        second = await session.call_tool("book_appointment", arguments)
        listed = ok(await session.call_tool("list_appointments", {"user_id": user}))

    assert ok(second) == ok(first)
    assert second.content[0].text == first.content[0].text
    assert not replayed(first)
    assert replayed(second)
    assert [(a["fecha_hora"], a["reservado_en"]) for a in listed["items"]] == [
        (clinic.times[0], ok(first)["reservado_en"])
    ]


async def test_a_repeated_reschedule_with_its_key_does_not_run_again(stack, clinic) -> None:
    user = clinic.user()
    source = {"doctor_id": clinic.doctors[0], "fecha_hora": clinic.times[0]}
    target = {"doctor_id": clinic.doctors[0], "fecha_hora": clinic.times[1]}
    move = {"user_id": user, "from": source, "to": target, "idempotency_key": new_key()}
    async with mcp_session(stack) as session:
        ok(await session.call_tool("book_appointment", {**source, "user_id": user}))
        first = await session.call_tool("reschedule_appointment", move)
        ok(await session.call_tool("cancel_appointment", {**target, "user_id": user}))
        # Run again now, the move would fail: the user holds neither slot any more.
        second = await session.call_tool("reschedule_appointment", move)
        unkeyed = await session.call_tool(
            "reschedule_appointment", {k: v for k, v in move.items() if k != "idempotency_key"}
        )
        listed = ok(await session.call_tool("list_appointments", {"user_id": user}))

    assert ok(first)["fecha_hora"] == clinic.times[1]
    assert replayed(second)
    assert ok(second) == ok(first)
    assert problem(unkeyed, "reschedule-failed", 409)["reason"] == "from_not_held"
    assert listed["items"] == []


async def test_a_stored_failure_is_replayed_too(stack, clinic) -> None:
    slot = slot_arguments(clinic, clinic.user("ana"))
    taken = {**slot_arguments(clinic, clinic.user("luis")), "idempotency_key": new_key()}
    async with mcp_session(stack) as session:
        ok(await session.call_tool("book_appointment", slot))
        first = await session.call_tool("book_appointment", taken)
        ok(await session.call_tool("cancel_appointment", slot))
        # The slot is free now, but the key answers what its call answered.
        second = await session.call_tool("book_appointment", taken)

    assert replayed(second)
    assert problem(second, "slot-taken", 409) == problem(first, "slot-taken", 409)
    assert second.content == first.content


async def test_a_failure_stored_before_v1_2_replays_without_structured_content(
    stack, clinic, monkeypatch
) -> None:
    # Records written by v1.1 (kept for a day) held the problem as structuredContent.
    def v1_1_answer(_codec, result):
        body = {
            "text": result.content[0].text,
            "structured": result.meta[PROBLEM_META],
            "is_error": True,
        }
        return idempotency.Answer(status_of(result), json.dumps(body), RESULT_CONTENT_TYPE)

    taken = {**slot_arguments(clinic, clinic.user("luis")), "idempotency_key": new_key()}
    async with mcp_session(stack) as session:
        ok(await session.call_tool("book_appointment", slot_arguments(clinic, clinic.user("ana"))))
        with monkeypatch.context() as patched:
            patched.setattr(replays.ResultCodec, "encode", v1_1_answer)
            first = await session.call_tool("book_appointment", taken)
        second = await session.call_tool("book_appointment", taken)

    assert replayed(second)
    assert problem(second, "slot-taken", 409) == problem(first, "slot-taken", 409)
    assert second.content == first.content


async def test_the_same_key_with_other_arguments_is_refused(stack, clinic) -> None:
    key = new_key()
    async with mcp_session(stack) as session:
        first = await session.call_tool(
            "hold_slot", {**slot_arguments(clinic, clinic.user()), "idempotency_key": key}
        )
        other_slot = await session.call_tool(
            "hold_slot", {**slot_arguments(clinic, clinic.user(), at=1), "idempotency_key": key}
        )
        other_tool = await session.call_tool(
            "book_appointment", {**slot_arguments(clinic, clinic.user()), "idempotency_key": key}
        )
        held = ok(
            await session.call_tool(
                "list_doctor_slots",
                {"doctor_id": clinic.doctors[0], "estado": "retenido"},
            )
        )

    ok(first)
    for result in (other_slot, other_tool):
        problem(result, "idempotency-key-reused", 422)
        assert "new idempotency_key" in result.content[0].text
        assert not replayed(result)
    assert [s["fecha_hora"] for s in held["items"]] == [clinic.times[0]]


async def test_keys_are_scoped_to_the_api_key_that_sent_them(stack, clinic) -> None:
    key = new_key()
    agent_call = {**slot_arguments(clinic, clinic.user("ana")), "idempotency_key": key}
    admin_call = {**slot_arguments(clinic, clinic.user("luis"), at=1), "idempotency_key": key}
    async with mcp_session(stack) as agent:
        by_agent = await agent.call_tool("book_appointment", agent_call)
    async with mcp_session(stack, key=ADMIN_KEY) as admin:
        # Under the agent's records this would be a reuse; under the admin's it is new.
        by_admin = await admin.call_tool("book_appointment", admin_call)
        admin_again = await admin.call_tool("book_appointment", admin_call)
    async with mcp_session(stack) as agent:
        agent_again = await agent.call_tool("book_appointment", agent_call)

    assert not replayed(by_admin)
    assert (ok(by_admin)["user_id"], ok(by_admin)["fecha_hora"]) == (
        clinic.user("luis"),
        clinic.times[1],
    )
    assert replayed(admin_again)
    assert ok(admin_again) == ok(by_admin)
    assert replayed(agent_again)
    assert ok(agent_again) == ok(by_agent)
    assert ok(by_agent)["user_id"] == clinic.user("ana")


async def test_save_session_creates_then_merges_and_get_session_reads_it(stack, clinic) -> None:
    user = clinic.user()
    async with mcp_session(stack) as session:
        created = ok(
            await session.call_tool(
                "save_session", {"user_id": user, "data": {"paso": "inicio", "idioma": "es"}}
            )
        )
        merged = ok(
            await session.call_tool(
                "save_session", {"user_id": user, "data": {"paso": "confirmar", "hold": "h1"}}
            )
        )
        read = ok(await session.call_tool("get_session", {"user_id": user}))

    assert created["data"] == {"paso": "inicio", "idioma": "es"}
    assert created["ttl_seconds"] == stack.settings.session_ttl_seconds
    assert merged["data"] == {"paso": "confirmar", "idioma": "es", "hold": "h1"}
    assert merged["created_at"] == created["created_at"]
    assert merged["expires_at"] >= created["expires_at"]
    assert read == merged


async def test_get_session_of_an_unknown_user_is_not_found(stack, clinic) -> None:
    async with mcp_session(stack) as session:
        result = await session.call_tool("get_session", {"user_id": clinic.user("nadie")})

    problem(result, "not-found", 404)
    assert "save_session" in result.content[0].text


@pytest.mark.parametrize("keyed", [False, True], ids=["without-key", "with-key"])
async def test_a_lone_surrogate_in_an_argument_is_refused_alike_with_or_without_a_key(
    stack, clinic, keyed
) -> None:
    # A Python caller can pass what JSON cannot carry; the key's fingerprint must not fail on it.
    key = {"idempotency_key": new_key()} if keyed else {}
    arguments = {"user_id": clinic.user(), "data": {"nota": "\ud800"}, **key}
    async with Client(stack.in_memory()) as client:
        result = await client.call_tool("save_session", arguments)

    problem(result, "invalid-request", 422)


async def test_a_lone_surrogate_escape_over_http_is_a_parse_error_with_a_key_too(stack) -> None:
    async with httpx2.AsyncClient(headers={**STREAMABLE, **BEARER}) as http:
        answers = []
        for key in ("", ', "idempotency_key": "clave-1"'):
            call = (
                '{"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": '
                '"save_session", "arguments": {"user_id": "u1", "data": {"nota": "\\ud800"}'
                + key
                + "}}}"
            )
            answers.append(await http.post(f"{stack.url}/mcp", content=call))

    for answer in answers:
        assert answer.status_code == 400, answer.text
        assert "Traceback" not in answer.text
    assert answers[0].json()["error"]["code"] == answers[1].json()["error"]["code"]
