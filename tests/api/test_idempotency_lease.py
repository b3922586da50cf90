"""A running request keeps its Idempotency-Key however slow it is (its claim is a renewed lease,
``services/idempotency_lease.py``): a retry while it runs is 409 in flight, never a second run,
and once it answered, the retry replays that answer even after the user cancelled.

The stall is injected (the booking's storage call waits on an event) and time is moved with
freezegun, the lease thread's beats stood in for by ``RENEWER.renew_due()`` each 10 s."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from freezegun import freeze_time

from health_api.api.kernel import kernel_of
from health_api.services.idempotency_lease import RENEWER
from tests.api.conftest import AGENT
from tests.api.helpers import MON_0900, add_slots, assert_problem, create_doctor, slot_url

STALL_SECONDS = 45  # longer than GUNICORN_TIMEOUT's 30 s, the old bound, and than the lease
BEAT_SECONDS = 10
KEYED = {**AGENT, "Idempotency-Key": "reserva-lenta"}
BOOKING = {"user_id": "user-1", "motivo": "control"}


def elapse(frozen, seconds: int) -> None:
    """Move the clock by ``seconds`` while the lease thread beats every ``BEAT_SECONDS``."""
    for _ in range(seconds // BEAT_SECONDS):
        frozen.tick(BEAT_SECONDS)
        RENEWER.renew_due()
    frozen.tick(seconds % BEAT_SECONDS)


def test_a_retry_while_a_booking_stalls_past_the_old_bound_is_in_flight_not_a_rerun(
    app, client, monkeypatch
) -> None:
    create_doctor(client)
    add_slots(client, "doc-ana", MON_0900)
    url = slot_url("doc-ana", MON_0900, "booking")
    slots = kernel_of(app).storage.slots
    real_book, runs = slots.book, []
    entered, release = threading.Event(), threading.Event()

    def stalled_book(*args, **kwargs):
        runs.append(args)
        if len(runs) == 1:  # the first run stalls; a second would be the defect
            entered.set()
            assert release.wait(30), "the test never released the stalled booking"
        return real_book(*args, **kwargs)

    monkeypatch.setattr(slots, "book", stalled_book)
    first: dict = {}

    def book_slowly() -> None:
        first["answer"] = app.test_client().put(url, json=BOOKING, headers=KEYED)

    with freeze_time(datetime.now(UTC)) as frozen:
        slow = threading.Thread(target=book_slowly)
        slow.start()
        assert entered.wait(30)
        elapse(frozen, STALL_SECONDS)
        during = client.put(url, json=BOOKING, headers=KEYED)
        release.set()
        slow.join(30)
        elapse(frozen, STALL_SECONDS)
        cancelled = client.delete(url, query_string={"user_id": "user-1"}, headers=AGENT)
        after = client.put(url, json=BOOKING, headers=KEYED)
        booked = client.get("/api/v1/users/user-1/appointments", headers=AGENT).get_json()

    assert first["answer"].status_code == 201
    assert assert_problem(during, 409)["type"] == "/problems/idempotency-key-in-flight"
    assert during.headers["Retry-After"] == "1"
    assert cancelled.status_code == 204
    assert after.status_code == 201
    assert after.headers["Idempotent-Replayed"] == "true"
    assert len(runs) == 1  # the booking ran once: the retries never ran it again
    assert booked["items"] == []  # the user's cancel stands


def test_a_request_that_died_is_taken_over_a_lease_after_its_last_renewal(
    app, client, monkeypatch
) -> None:
    create_doctor(client)
    add_slots(client, "doc-ana", MON_0900)
    url = slot_url("doc-ana", MON_0900, "booking")
    repository = kernel_of(app).storage.idempotency
    lease = kernel_of(app).settings.idempotency_lease_seconds
    with freeze_time(datetime.now(UTC)) as frozen:
        with monkeypatch.context() as dying:
            # The booking committed; the process died before it stored the answer.
            dying.setattr(repository, "complete", lambda completed: False)
            client.put(url, json=BOOKING, headers=KEYED)
        frozen.tick(lease - 1)
        early = client.put(url, json=BOOKING, headers=KEYED)
        frozen.tick(1)
        retried = client.put(url, json=BOOKING, headers=KEYED)

    assert assert_problem(early, 409)["type"] == "/problems/idempotency-key-in-flight"
    assert retried.status_code == 200  # re-run: the same user's booking, found
    assert "Idempotent-Replayed" not in retried.headers
