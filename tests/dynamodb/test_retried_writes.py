"""Writes that botocore retries after their first attempt committed (the answer was lost).

On real DynamoDB a write can commit and its answer be lost (a read time-out, a 500 from the front
end): botocore's standard mode then sends the same request again, and its condition fails on the
request's own write. No emulator loses answers, so a ``needs-retry`` hook makes botocore retry a
request whose first attempt reached the engine and committed: the retry is the real request,
with botocore's real ``RetryAttempts`` in its response metadata. Runs on DynamoDB Local and moto.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

import pytest
from botocore.loaders import Loader

from health_api import create_app
from health_api.config import ApiKey
from health_api.domain.errors import ConflictError, NotFoundError
from health_api.domain.models import RESERVADO, Doctor, Slot, SlotKey
from health_api.domain.requests import BookingRequest
from tests.api.conftest import ADMIN, ADMIN_KEY, AGENT, AGENT_KEY
from tests.api.helpers import slot_url

pytestmark = pytest.mark.parametrize("backend", ["dynamodb-local", "moto"], indirect=True)

NOW = "2026-12-01T08:00:00Z"
SLOT = SlotKey("doc-1", "2026-12-02T09:00:00Z")


@contextlib.contextmanager
def first_answer_lost(storage, operation: str) -> Iterator[list[int]]:
    """botocore retries ``operation`` once after its first attempt was answered (committed or
    refused by its condition), as when that answer is lost; yields the HTTP statuses seen."""
    client = storage._client
    statuses: list[int] = []

    def lose_the_first_answer(attempts, response=None, **_kwargs):
        if response is not None:
            statuses.append(response[0].status_code)
        return 0 if attempts == 1 and response is not None else None  # retry at once

    event = f"needs-retry.dynamodb.{operation}"
    client.meta.events.register(event, lose_the_first_answer)
    try:
        yield statuses
    finally:
        client.meta.events.unregister(event, lose_the_first_answer)


@pytest.fixture
def clinic(storage):
    storage.doctors.create(Doctor("doc-1", "Dra. Uno", "Cardiología"))
    storage.slots.add_many([Slot("doc-1", SLOT.fecha_hora)])
    return storage


def test_a_retried_create_is_not_a_conflict_with_itself(storage) -> None:
    new = Doctor("doc-9", "Dr. Nueve", "Urología", idiomas=("es",))

    with first_answer_lost(storage, "PutItem") as statuses:
        created = storage.doctors.create(new)

    assert statuses == [200, 400]  # committed, then the retry's condition failed on it
    assert created == new
    assert storage.doctors.get("doc-9") == new


def test_a_retried_create_that_meets_another_doctor_is_still_a_conflict(clinic) -> None:
    with first_answer_lost(clinic, "PutItem"), pytest.raises(ConflictError):
        clinic.doctors.create(Doctor("doc-1", "Someone Else", "Urología"))

    assert clinic.doctors.get("doc-1").nombre == "Dra. Uno"


def test_a_retried_slot_delete_is_not_a_404_for_its_own_delete(clinic) -> None:
    with first_answer_lost(clinic, "DeleteItem") as statuses:
        clinic.slots.delete(SLOT)

    assert statuses == [200, 400]
    with pytest.raises(NotFoundError):
        clinic.slots.get(SLOT)


def test_a_slot_delete_that_finds_nothing_without_a_retry_is_still_a_404(clinic) -> None:
    with pytest.raises(NotFoundError):
        clinic.slots.delete(SlotKey("doc-1", "2026-12-09T09:00:00Z"))


def test_a_retried_doctor_delete_is_not_a_404_for_its_own_delete(clinic) -> None:
    mark = clinic.doctors.mark_deletion("doc-1", "2026-12-01T08:00:00Z abc")

    with first_answer_lost(clinic, "DeleteItem") as statuses:
        clinic.doctors.delete("doc-1", mark=mark)

    assert statuses == [200, 400]
    with pytest.raises(NotFoundError):
        clinic.doctors.get("doc-1")


def test_a_retried_deletion_step_counts_the_slots_its_first_attempts_deleted(clinic) -> None:
    with first_answer_lost(clinic, "DeleteItem"):
        step = clinic.slots.delete_free("doc-1", [SLOT.fecha_hora], NOW)

    assert (step.removed, step.taken_at) == (1, None)


def test_a_retried_mark_keeps_the_mark_it_wrote(clinic) -> None:
    with first_answer_lost(clinic, "UpdateItem"):
        mark = clinic.doctors.mark_deletion("doc-1", "2026-12-01T08:00:00Z abc")

    assert mark == "2026-12-01T08:00:00Z abc"


def test_a_retried_booking_whose_first_attempt_committed_is_still_created(clinic) -> None:
    with first_answer_lost(clinic, "UpdateItem") as statuses:
        result = clinic.slots.book(BookingRequest(SLOT, "user-a", "control"), NOW)

    assert statuses == [200, 400]
    assert result.created is True  # the API answers 201, not the 200 of a repeat
    assert (result.slot.estado, result.slot.user_id, result.slot.reservado_en) == (
        RESERVADO,
        "user-a",
        NOW,
    )
    # A later request of the same user is a repeat: 200, the same booking.
    assert (
        clinic.slots.book(BookingRequest(SLOT, "user-a", "control"), "2026-12-01T08:05:00Z").created
        is False
    )


def test_a_retried_booking_that_meets_the_same_users_older_booking_is_a_repeat(clinic) -> None:
    clinic.slots.book(BookingRequest(SLOT, "user-a", "control"), NOW)

    with first_answer_lost(clinic, "UpdateItem"):
        result = clinic.slots.book(
            BookingRequest(SLOT, "user-a", "control"), "2026-12-01T08:05:00Z"
        )

    assert result.created is False
    assert result.slot.reservado_en == NOW


def test_transactions_carry_one_client_request_token_across_retries(clinic, backend) -> None:
    # TransactWriteItems is retry-safe without our help: botocore fills ClientRequestToken
    # (an idempotencyToken in its service model) once per call, every retry resends it, and
    # DynamoDB answers a repeat of a committed token with success, writing nothing again.
    model = Loader().load_service_model("dynamodb", "service-2")
    member = model["shapes"]["TransactWriteItemsInput"]["members"]["ClientRequestToken"]
    assert member["idempotencyToken"] is True
    tokens: list[str] = []

    def record(request, **_kwargs):
        tokens.append(json.loads(request.body)["ClientRequestToken"])

    clinic._client.meta.events.register("before-send.dynamodb.TransactWriteItems", record)
    try:
        with first_answer_lost(clinic, "TransactWriteItems") as statuses:
            result = clinic.slots.add_for_doctor("doc-1", [Slot("doc-1", "2026-12-03T09:00:00Z")])
    finally:
        clinic._client.meta.events.unregister("before-send.dynamodb.TransactWriteItems", record)

    if backend == "dynamodb-local":
        # DynamoDB Local honours the token as DynamoDB does: the retry is answered as a
        # success and the slot counts as created. (moto ignores tokens: its retry is
        # cancelled and the slot counted as skipped, which real DynamoDB never does.)
        assert statuses == [200, 200]
        assert (result.created, result.skipped) == (1, 0)
    assert statuses[0] == 200
    assert len(tokens) == 2
    assert tokens[0]
    assert set(tokens) == {tokens[0]}
    assert clinic.slots.get(SlotKey("doc-1", "2026-12-03T09:00:00Z")).estado == "disponible"


# --- through the API ------------------------------------------------------------------------


@pytest.fixture
def api(storage, engine_settings):
    """A test client of the app on ``storage``."""
    settings = engine_settings().replace(
        environment="test",
        api_keys=(ApiKey("admin", ADMIN_KEY), ApiKey("agent", AGENT_KEY)),
        rate_limit="100000/minute",
        key_id_secret="test-key-id-secret-0123456789abcdef",
    )
    return create_app({"settings": settings, "storage": storage}).test_client()


def test_a_retried_post_of_a_doctor_is_a_201(storage, api) -> None:
    body = {"doctor_id": "doc-9", "nombre": "Dr. Nueve", "especialidad": "Urología"}

    with first_answer_lost(storage, "PutItem") as statuses:
        response = api.post("/api/v1/doctors", json=body, headers=ADMIN)

    assert statuses == [200, 400]
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.headers["Location"].endswith("/api/v1/doctors/doc-9")


def test_a_retried_delete_of_a_slot_is_a_204(clinic, api) -> None:
    clinic.slots.add_many([Slot("doc-1", "2030-03-04T09:00:00Z")])

    with first_answer_lost(clinic, "DeleteItem"):
        response = api.delete(slot_url("doc-1", "2030-03-04T09:00:00Z"), headers=ADMIN)

    assert response.status_code == 204, response.get_data(as_text=True)


def test_a_retried_booking_is_a_201(clinic, api) -> None:
    clinic.slots.add_many([Slot("doc-1", "2030-03-04T09:00:00Z")])
    url = slot_url("doc-1", "2030-03-04T09:00:00Z", "booking")

    with first_answer_lost(clinic, "UpdateItem"):
        response = api.put(url, json={"user_id": "user-a"}, headers=AGENT)

    assert response.status_code == 201, response.get_data(as_text=True)
    assert api.put(url, json={"user_id": "user-a"}, headers=AGENT).status_code == 200


def test_a_retried_delete_of_a_doctor_is_a_204(clinic, api) -> None:
    # Every write of the deletion is retried once after committing: the mark, the slot
    # deletes, the doctor item.
    with first_answer_lost(clinic, "UpdateItem"), first_answer_lost(clinic, "DeleteItem"):
        response = api.delete("/api/v1/doctors/doc-1", headers=ADMIN)

    assert response.status_code == 204, response.get_data(as_text=True)
    assert api.get("/api/v1/doctors/doc-1", headers=AGENT).status_code == 404
