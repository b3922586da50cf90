"""100 parallel requests with one Idempotency-Key booking one slot: one execution, the rest
replay it or are told it is in flight; never a second booking (SQLite and DynamoDB Local)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from health_api.api.kernel import kernel_of
from tests.api.conftest import AGENT
from tests.api.helpers import MON_0900, add_slots, create_doctor, slot_url

REQUESTS = 100


def test_one_key_in_parallel_runs_once(app, client, backend, monkeypatch) -> None:
    if backend == "moto":
        pytest.skip("moto's in-process backend is not atomic under threads")
    create_doctor(client)
    add_slots(client, "doc-ana", MON_0900)
    slots = kernel_of(app).storage.slots
    real_book, runs, lock = slots.book, [], threading.Lock()

    def counted_book(*args, **kwargs):
        with lock:
            runs.append(args)
        return real_book(*args, **kwargs)

    monkeypatch.setattr(slots, "book", counted_book)
    start = threading.Barrier(REQUESTS)
    headers = {**AGENT, "Idempotency-Key": "reserva-carrera"}

    def one(_: int):
        own = app.test_client()
        start.wait(timeout=60)
        response = own.put(
            slot_url("doc-ana", MON_0900, "booking"), json={"user_id": "user-1"}, headers=headers
        )
        return response.status_code, response.headers.get("Idempotent-Replayed"), response

    with ThreadPoolExecutor(REQUESTS) as pool:
        answers = list(pool.map(one, range(REQUESTS)))

    executed = [a for a in answers if a[0] == 201 and a[1] is None]
    replayed = [a for a in answers if a[0] == 201 and a[1] == "true"]
    in_flight = [
        a
        for a in answers
        if a[0] == 409 and a[2].get_json()["type"] == "/problems/idempotency-key-in-flight"
    ]
    assert len(executed) == 1
    assert len(executed) + len(replayed) + len(in_flight) == REQUESTS
    assert len(runs) == 1
    assert all(a[2].get_data() == executed[0][2].get_data() for a in replayed)
    booked = client.get("/api/v1/users/user-1/appointments", headers=AGENT).get_json()["items"]
    assert [s["fecha_hora"] for s in booked] == [MON_0900]
