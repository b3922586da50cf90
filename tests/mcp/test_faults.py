"""Faults behind the tools, on SQLite over Streamable HTTP: a store that is unavailable is an
``isError`` result saying when to try again (and an idempotency key does not keep it); an
unexpected exception is a bare "unexpected error"; and no log record of the server carries the
patient data a call sent (user id, motivo), in a failure or in a normal booking."""

from __future__ import annotations

import json
import logging
import traceback
import uuid

import pytest

from health_api.domain.errors import StorageUnavailableError
from tests.mcp.conftest import mcp_session, ok, open_clinic, problem, slot_arguments

pytestmark = pytest.mark.anyio

MOTIVO = "dolor torácico desde el martes"
# What a storage or library error might quote; none of it may reach the caller.
INTERNAL = "sqlite3 cannot open /work/main/data/health.db (health_api/storage/sqlite/x.py:42)"
# The test's own client logs what it sends (at DEBUG); the server's records are the rest.
CLIENT_LOGGERS = ("mcp.client", "httpx2", "httpcore2")


@pytest.fixture
def clinic(sqlite_stack):
    return open_clinic(sqlite_stack.storage)


@pytest.fixture
def logged(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Every record of every logger from DEBUG up, the SDK's and the server thread's included
    (whatever levels an earlier ``logs.configure`` left on them)."""
    caplog.set_level(logging.DEBUG)
    for name in ("health_api", "mcp", "uvicorn"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def fail_with(error: Exception):
    def raising(*_args, **_kwargs):
        raise error

    return raising


def server_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if not any(r.name == c or r.name.startswith(c + ".") for c in CLIENT_LOGGERS)
    ]


def everything_logged(caplog: pytest.LogCaptureFixture) -> str:
    """Each server record's message, arguments, extras and traceback, as one text."""
    parts = []
    for record in server_records(caplog):
        parts.append(record.getMessage())
        parts.append(json.dumps(vars(record), default=repr, ensure_ascii=False))
        if record.exc_info:
            parts.append("".join(traceback.format_exception(*record.exc_info)))
    return "\n".join(parts)


def assert_no_patient_data(caplog: pytest.LogCaptureFixture, *values: str) -> None:
    text = everything_logged(caplog)
    for value in values:
        assert value not in text, value
    # Guard against an empty capture passing for a clean one.
    assert any(r.getMessage() == "tool call" for r in caplog.records)


async def test_an_unavailable_store_says_when_to_try_again_without_a_trace(
    sqlite_stack, clinic, monkeypatch
) -> None:
    monkeypatch.setattr(
        sqlite_stack.storage.slots, "book", fail_with(StorageUnavailableError(INTERNAL, 2))
    )
    async with mcp_session(sqlite_stack) as session:
        result = await session.call_tool("book_appointment", slot_arguments(clinic, clinic.user()))

    body = problem(result, "storage-unavailable", 503)
    assert body["retry_after"] == 2
    text = result.content[0].text
    assert "try again in 2 s" in text.lower()
    assert "sqlite" not in text.lower()
    assert "sqlite" not in json.dumps(body).lower()


async def test_a_read_on_an_unavailable_store_is_the_same_error(
    sqlite_stack, clinic, monkeypatch
) -> None:
    monkeypatch.setattr(
        sqlite_stack.storage.doctors,
        "list_by_specialty",
        fail_with(StorageUnavailableError(INTERNAL, 2)),
    )
    async with mcp_session(sqlite_stack) as session:
        result = await session.call_tool("search_doctors", {"especialidad": clinic.especialidad})

    problem(result, "storage-unavailable", 503)
    assert "try again in 2 s" in result.content[0].text.lower()


async def test_an_unavailable_store_is_not_kept_under_an_idempotency_key(
    sqlite_stack, clinic, monkeypatch
) -> None:
    arguments = {**slot_arguments(clinic, clinic.user()), "idempotency_key": str(uuid.uuid4())}
    async with mcp_session(sqlite_stack) as session:
        with monkeypatch.context() as patch:
            patch.setattr(
                sqlite_stack.storage.slots, "book", fail_with(StorageUnavailableError(INTERNAL, 2))
            )
            failed = await session.call_tool("book_appointment", arguments)
        retried = await session.call_tool("book_appointment", arguments)

    problem(failed, "storage-unavailable", 503)
    assert ok(retried)["estado"] == "reservado"
    assert not (retried.meta or {}).get("health-api/idempotent-replayed")


async def test_an_unexpected_exception_is_an_unexpected_error_that_leaks_nothing(
    sqlite_stack, clinic, monkeypatch, logged
) -> None:
    user = clinic.user()
    monkeypatch.setattr(sqlite_stack.storage.slots, "book", fail_with(RuntimeError(INTERNAL)))
    async with mcp_session(sqlite_stack) as session:
        result = await session.call_tool(
            "book_appointment", {**slot_arguments(clinic, user), "motivo": MOTIVO}
        )
        # The server keeps serving after it.
        after = await session.call_tool("get_session", {"user_id": user})

    body = problem(result, "internal", 500)
    text = result.content[0].text
    assert "unexpected error" in text
    assert INTERNAL not in text
    assert INTERNAL not in json.dumps(body)
    assert "RuntimeError" not in text
    problem(after, "not-found", 404)
    # The trace is the operator's: it is logged, without the patient's data.
    failures = [r for r in logged.records if r.getMessage() == "tool call failed unexpectedly"]
    assert len(failures) == 1
    assert failures[0].exc_info is not None
    assert_no_patient_data(logged, user, MOTIVO)


async def test_a_normal_conversation_logs_no_patient_data(sqlite_stack, clinic, logged) -> None:
    user = clinic.user()
    slot = slot_arguments(clinic, user)
    async with mcp_session(sqlite_stack) as session:
        hold = ok(await session.call_tool("hold_slot", slot))
        ok(
            await session.call_tool(
                "book_appointment", {**slot, "motivo": MOTIVO, "hold_id": hold["hold_id"]}
            )
        )
        ok(await session.call_tool("list_appointments", {"user_id": user}))
        ok(await session.call_tool("save_session", {"user_id": user, "data": {"motivo": MOTIVO}}))
        refused = await session.call_tool(
            "book_appointment", {**slot, "user_id": f"{user} x", "motivo": MOTIVO}
        )

    problem(refused, "validation", 422)
    calls = [r for r in logged.records if r.getMessage() == "tool call"]
    assert [r.tool for r in calls] == [
        "hold_slot",
        "book_appointment",
        "list_appointments",
        "save_session",
    ]
    assert all(r.outcome == "ok" and r.key_id for r in calls)
    assert_no_patient_data(logged, user, MOTIVO)


async def test_a_failed_call_is_logged_with_its_problem_kind_and_status(
    sqlite_stack, clinic, logged
) -> None:
    async with mcp_session(sqlite_stack) as session:
        ok(await session.call_tool("book_appointment", slot_arguments(clinic, clinic.user("a"))))
        taken = await session.call_tool(
            "book_appointment",
            {**slot_arguments(clinic, clinic.user("b")), "idempotency_key": str(uuid.uuid4())},
        )

    problem(taken, "slot-taken", 409)
    [record] = [r for r in logged.records if r.getMessage() == "tool call" and r.outcome != "ok"]
    assert (record.tool, record.outcome, record.status) == ("book_appointment", "slot-taken", 409)
