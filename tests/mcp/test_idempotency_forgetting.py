"""Forgotten means forgotten on MCP too (API.md v1.2): a result stored under ``idempotency_key``
keeps no session ``data`` and no booking ``motivo``; a replay reads them as they are now, and
leaves them out once the session was deleted or the booking cancelled."""

from __future__ import annotations

import json
import uuid

import pytest
from mcp import Client

from health_api import clock
from health_api.keys import scope_id
from health_api.mcp.replays import REPLAYED_META
from health_api.services import idempotency as rules
from tests.api.conftest import AGENT_KEY
from tests.mcp.conftest import ok, slot_arguments

pytestmark = pytest.mark.anyio

SECRET = "diabetes tipo 2"  # what must not outlive its session or booking in the store


def assert_stored_without_personal_data(stack, key: str) -> None:
    clave = rules.record_key(scope_id(AGENT_KEY), key)
    record = stack.storage.idempotency.get(clave, clock.epoch_seconds())
    assert record.completed
    assert SECRET not in record.body
    stored = json.loads(record.body)["structured"]
    assert "data" not in stored
    assert stored.get("motivo") is None


def replayed(result) -> dict:
    assert (result.meta or {}).get(REPLAYED_META)
    return ok(result)  # its text is still its structure's JSON


async def test_save_session_replays_the_data_as_it_is_now_and_none_once_deleted(
    stack, clinic
) -> None:
    user, key = clinic.user(), str(uuid.uuid4())
    arguments = {"user_id": user, "data": {"nota": SECRET}, "idempotency_key": key}
    async with Client(stack.in_memory()) as client:
        first = ok(await client.call_tool("save_session", arguments))
        alive = await client.call_tool("save_session", arguments)
        stack.storage.sessions.delete(user)  # DELETE /sessions/{user_id}, on the same store
        deleted = await client.call_tool("save_session", arguments)

    assert first["data"] == {"nota": SECRET}
    assert replayed(alive) == first
    assert replayed(deleted) == {k: v for k, v in first.items() if k != "data"}
    assert_stored_without_personal_data(stack, key)


async def test_book_and_reschedule_replay_no_motivo_once_cancelled(stack, clinic) -> None:
    user, book_key, move_key = clinic.user(), str(uuid.uuid4()), str(uuid.uuid4())
    source = slot_arguments(clinic, user)
    target = slot_arguments(clinic, user, at=1)
    book = {**source, "motivo": SECRET, "idempotency_key": book_key}
    move = {
        "user_id": user,
        "from": {k: source[k] for k in ("doctor_id", "fecha_hora")},
        "to": {k: target[k] for k in ("doctor_id", "fecha_hora")},
        "idempotency_key": move_key,
    }
    async with Client(stack.in_memory()) as client:
        booked = ok(await client.call_tool("book_appointment", book))
        moved = ok(await client.call_tool("reschedule_appointment", move))
        moved_again = await client.call_tool("reschedule_appointment", move)
        book_again = await client.call_tool("book_appointment", book)  # moved away: gone
        ok(await client.call_tool("cancel_appointment", target))
        cancelled = await client.call_tool("reschedule_appointment", move)

    assert booked["motivo"] == moved["motivo"] == SECRET
    assert replayed(moved_again) == moved
    assert replayed(book_again) == {k: v for k, v in booked.items() if k != "motivo"}
    assert replayed(cancelled) == {k: v for k, v in moved.items() if k != "motivo"}
    assert_stored_without_personal_data(stack, book_key)
    assert_stored_without_personal_data(stack, move_key)
