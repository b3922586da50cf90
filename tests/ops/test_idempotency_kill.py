"""kill -9 of gunicorn between an Idempotency-Key's claim and its stored answer: the client's
retry with the same key succeeds and the slot is booked exactly once (API.md "Idempotency-Key").
And the other side: a request alive but slower than its lease keeps its claim (the worker's lease
thread renews it), so a retry meanwhile is 409 in flight, never a second run.

The window is opened by ``HEALTH_API_TEST_PAUSE_BEFORE_ANSWER`` (api/idempotency.py), a
test-only pause after the handler committed the booking and before the answer is stored;
production never sets it. ``HEALTH_API_IDEMPOTENCY_LEASE_SECONDS=3``: the killed process stops
renewing its claim, which lapses 3 s after its last renewal, so the retry meets 409 in-flight
(with ``Retry-After: 1``) until then, and runs again after.
"""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path

from tests.ops import procs
from tests.ops.procs import AGENT, call, running

STALE_SECONDS = 3
USER = "user-kill-9"


def test_a_retry_after_kill_9_between_claim_and_answer_books_once(tmp_path: Path) -> None:
    db = tmp_path / "health.db"
    storage = procs.sqlite_env(db)
    paused = procs.server_env(
        storage,
        HEALTH_API_IDEMPOTENCY_LEASE_SECONDS=str(STALE_SECONDS),
        HEALTH_API_TEST_PAUSE_BEFORE_ANSWER="120",
    )
    headers = {**AGENT, "Idempotency-Key": '"reserva-kill-9"'}
    body = {"user_id": USER, "motivo": "control"}
    with running(paused, tmp_path / "first") as server:
        doctor_id, fecha_hora = procs.new_slot(server.port)
        path = procs.booking_path(doctor_id, fecha_hora)

        def first_attempt() -> None:
            with contextlib.suppress(OSError):  # the server dies under it: no answer
                call(server.port, "PUT", path, body, headers, timeout=150)

        first = threading.Thread(target=first_attempt, daemon=True)
        first.start()
        procs.wait_for(lambda: procs.appointments(server.port, USER), 30, "the first booking")
        server.kill_group()
        procs.wait_for(server.group_gone, 10, "the killed server to be gone")

    normal = procs.server_env(storage, HEALTH_API_IDEMPOTENCY_LEASE_SECONDS=str(STALE_SECONDS))
    with running(normal, tmp_path / "second") as server:
        deadline = time.monotonic() + 30
        retry = call(server.port, "PUT", path, body, headers)
        while retry.status == 409 and time.monotonic() < deadline:
            assert retry.body["type"] == "/problems/idempotency-key-in-flight"
            time.sleep(int(retry.headers["retry-after"]))  # the client's back-off, as told
            retry = call(server.port, "PUT", path, body, headers)
        again = call(server.port, "PUT", path, body, headers)
        booked = procs.appointments(server.port, USER)

    assert retry.status == 200, retry.body  # re-run: the same user's booking, found
    assert retry.body["user_id"] == USER
    assert again.status == 200
    assert again.headers.get("idempotent-replayed") == "true"
    assert [(s["doctor_id"], s["fecha_hora"]) for s in booked] == [(doctor_id, fecha_hora)]


def test_a_retry_while_the_first_runs_past_its_lease_is_in_flight_then_replays(
    tmp_path: Path,
) -> None:
    # Alive but slow (paused 3 leases after booking): the worker's lease thread keeps the claim.
    storage = procs.sqlite_env(tmp_path / "health.db")
    slow = procs.server_env(
        storage,
        HEALTH_API_IDEMPOTENCY_LEASE_SECONDS=str(STALE_SECONDS),
        HEALTH_API_TEST_PAUSE_BEFORE_ANSWER=str(3 * STALE_SECONDS),
    )
    headers = {**AGENT, "Idempotency-Key": '"reserva-lenta"'}
    body = {"user_id": USER, "motivo": "control"}
    with running(slow, tmp_path / "slow") as server:
        doctor_id, fecha_hora = procs.new_slot(server.port)
        path = procs.booking_path(doctor_id, fecha_hora)
        first: dict = {}
        thread = threading.Thread(
            target=lambda: first.update(answer=call(server.port, "PUT", path, body, headers))
        )
        thread.start()
        procs.wait_for(lambda: procs.appointments(server.port, USER), 30, "the first booking")
        time.sleep(2 * STALE_SECONDS)  # real time: the lease thread must renew, twice a lease
        during = call(server.port, "PUT", path, body, headers)
        thread.join(30)
        again = call(server.port, "PUT", path, body, headers)

    assert during.status == 409, during.body
    assert during.body["type"] == "/problems/idempotency-key-in-flight"
    assert first["answer"].status == 201
    assert again.status == 201
    assert again.headers.get("idempotent-replayed") == "true"
