"""A tool call with ``idempotency_key`` keeps its key however slow it is (the same lease as
REST's, ``services/idempotency_lease.py``): a repeat while it runs is in flight, never a second
run; once it answered, the repeat replays it, even after the user cancelled.

The stall is injected (the booking's storage call waits on an event) and time is moved with
freezegun, the lease thread's beats stood in for by ``RENEWER.renew_due()`` each 10 s."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime

import anyio
import anyio.to_thread
import pytest
from freezegun import freeze_time
from mcp import Client

from health_api.mcp.replays import REPLAYED_META
from health_api.services.idempotency_lease import RENEWER
from tests.mcp.conftest import ok, problem, slot_arguments

pytestmark = pytest.mark.anyio

STALL_SECONDS = 45  # longer than GUNICORN_TIMEOUT's 30 s, the old bound, and than the lease
BEAT_SECONDS = 10


def elapse(frozen, seconds: int) -> None:
    """Move the clock by ``seconds`` while the lease thread beats every ``BEAT_SECONDS``."""
    for _ in range(seconds // BEAT_SECONDS):
        frozen.tick(BEAT_SECONDS)
        RENEWER.renew_due()
    frozen.tick(seconds % BEAT_SECONDS)


async def test_a_repeat_while_a_booking_stalls_past_the_old_bound_is_in_flight(
    stack, clinic, monkeypatch
) -> None:
    user = clinic.user()
    slot = slot_arguments(clinic, user)
    arguments = {**slot, "motivo": "control", "idempotency_key": str(uuid.uuid4())}
    slots = stack.storage.slots
    real_book, runs = slots.book, []
    entered, release = threading.Event(), threading.Event()

    def stalled_book(*args, **kwargs):
        runs.append(args)
        if len(runs) == 1:  # the first run stalls; a second would be the defect
            entered.set()
            assert release.wait(30), "the test never released the stalled booking"
        return real_book(*args, **kwargs)

    monkeypatch.setattr(slots, "book", stalled_book)
    results: dict = {}
    with freeze_time(datetime.now(UTC), real_asyncio=True) as frozen:
        async with Client(stack.in_memory()) as client:

            async def book_slowly() -> None:
                results["first"] = await client.call_tool("book_appointment", arguments)

            async with anyio.create_task_group() as group:
                group.start_soon(book_slowly)
                assert await anyio.to_thread.run_sync(entered.wait, 30)
                elapse(frozen, STALL_SECONDS)
                during = await client.call_tool("book_appointment", arguments)
                release.set()
            elapse(frozen, STALL_SECONDS)
            ok(await client.call_tool("cancel_appointment", slot))
            after = await client.call_tool("book_appointment", arguments)
            listed = ok(await client.call_tool("list_appointments", {"user_id": user}))

    assert ok(results["first"])["user_id"] == user
    problem(during, "idempotency-key-in-flight", 409)
    assert (after.meta or {}).get(REPLAYED_META)
    assert len(runs) == 1  # the booking ran once: the repeats never ran it again
    assert listed["items"] == []  # the user's cancel stands
