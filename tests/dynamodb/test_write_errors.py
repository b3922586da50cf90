"""How DynamoDB's write errors are answered: conflicts retried a bounded number of times, then a
503; a request DynamoDB calls invalid is a logged 500 (a bug), never "retry later".

No emulator produces these errors on demand, so botocore's Stubber answers in DynamoDB's place:
first the repositories on a stubbed client, then the HTTP statuses through the app.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import boto3
import pytest
from botocore.retries.standard import ThrottledRetryableChecker, TransientRetryableChecker
from botocore.stub import Stubber
from moto import mock_aws

from health_api import create_app
from health_api.config import ApiKey, load_settings
from health_api.domain.errors import StorageRequestError, StorageUnavailableError
from health_api.domain.models import Slot, SlotKey
from health_api.domain.requests import BookingRequest
from health_api.storage.dynamodb import items
from health_api.storage.dynamodb.client import build_client
from health_api.storage.dynamodb.doctors import DynamoDoctorRepository
from health_api.storage.dynamodb.items import TableRef
from health_api.storage.dynamodb.slots import DynamoSlotRepository
from health_api.storage.dynamodb.storage import DynamoStorage
from tests.api.conftest import ADMIN, ADMIN_KEY, AGENT, AGENT_KEY
from tests.api.helpers import assert_problem
from tests.conftest import create_dynamodb_tables

NOW = "2026-12-01T08:00:00Z"
SLOT = SlotKey("doc-1", "2026-12-02T09:00:00Z")
BOOKED = {
    "doctor_id": {"S": "doc-1"},
    "fecha_hora": {"S": SLOT.fecha_hora},
    "duracion_min": {"N": "30"},
    "estado": {"S": "reservado"},
    "user_id": {"S": "user-a"},
    "reservado_en": {"S": NOW},
}


@pytest.fixture
def pauses(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The back-off pauses of our conflict retries, recorded instead of slept."""
    recorded: list[float] = []
    monkeypatch.setattr(items, "_pause", recorded.append)
    return recorded


@pytest.fixture
def stubbed() -> Iterator[tuple[Stubber, DynamoSlotRepository]]:
    """A slot repository on a client whose every answer comes from the Stubber."""
    client = boto3.client("dynamodb", region_name="us-east-1")
    with Stubber(client) as stubber:
        yield stubber, DynamoSlotRepository(client, TableRef("horarios"), TableRef("doctores"))
        stubber.assert_no_pending_responses()


def conflict(stubber: Stubber, operation: str) -> None:
    stubber.add_client_error(operation, "TransactionConflictException", http_status_code=400)


def cancelled(stubber: Stubber, *codes: str) -> None:
    stubber.add_client_error(
        "transact_write_items",
        "TransactionCanceledException",
        http_status_code=400,
        modeled_fields={"CancellationReasons": [{"Code": code} for code in codes]},
    )


def test_our_conflict_retries_do_not_double_botocores_own() -> None:
    # botocore's standard mode retries throttling (TransactionInProgressException included)
    # and transient errors; it retries neither conflict, so those are ours to retry.
    botocore_retries = set(ThrottledRetryableChecker._THROTTLED_ERROR_CODES) | set(
        TransientRetryableChecker._TRANSIENT_ERROR_CODES
    )
    assert "TransactionInProgressException" in botocore_retries
    assert "TransactionConflictException" not in botocore_retries
    assert "TransactionCanceledException" not in botocore_retries


def test_a_single_write_that_meets_a_transaction_is_retried_and_answered(stubbed, pauses) -> None:
    stubber, slots = stubbed
    conflict(stubber, "update_item")
    stubber.add_response("update_item", {"Attributes": BOOKED})

    result = slots.book(BookingRequest(SLOT, "user-a"), NOW)

    assert (result.created, result.slot.user_id) == (True, "user-a")
    assert len(pauses) == 1


def test_conflicts_that_outlast_the_retries_are_storage_unavailable(stubbed, pauses) -> None:
    stubber, slots = stubbed
    for _ in range(items.CONFLICT_ATTEMPTS):
        conflict(stubber, "delete_item")

    with pytest.raises(StorageUnavailableError) as raised:
        slots.delete(SLOT)

    assert raised.value.retry_after >= 1
    assert len(pauses) == items.CONFLICT_ATTEMPTS - 1
    assert all(0 <= pause <= 0.1 for pause in pauses)


def test_a_transaction_cancelled_only_by_conflicts_is_sent_again(stubbed, pauses) -> None:
    stubber, slots = stubbed
    cancelled(stubber, "None", "TransactionConflict")
    stubber.add_response("transact_write_items", {})

    result = slots.add_many(
        [Slot("doc-1", "2026-12-02T09:00:00Z"), Slot("doc-1", "2026-12-02T10:00:00Z")]
    )

    assert (result.created, result.skipped) == (2, 0)
    assert len(pauses) == 1


def test_a_cancellation_with_a_failed_condition_is_decided_not_retried_as_a_conflict(
    stubbed, pauses
) -> None:
    stubber, slots = stubbed
    cancelled(stubber, "ConditionalCheckFailed", "TransactionConflict")
    stubber.add_response("transact_write_items", {})  # the second slot, sent again alone

    result = slots.add_many(
        [Slot("doc-1", "2026-12-02T09:00:00Z"), Slot("doc-1", "2026-12-02T10:00:00Z")]
    )

    assert (result.created, result.skipped) == (1, 1)
    assert pauses == []


def test_a_validation_exception_is_a_bug_not_a_retry_later(stubbed, pauses) -> None:
    stubber, slots = stubbed
    stubber.add_client_error(
        "update_item",
        "ValidationException",
        "One or more parameter values were invalid: user-a",
        http_status_code=400,
    )

    with pytest.raises(StorageRequestError) as raised:
        slots.book(BookingRequest(SLOT, "user-a"), NOW)

    assert (raised.value.operation, raised.value.code) == ("UpdateItem", "ValidationException")
    assert "user-a" not in str(raised.value)
    assert not isinstance(raised.value, StorageUnavailableError)
    assert pauses == []


@pytest.mark.parametrize(
    "code", ["ResourceNotFoundException", "TransactionInProgressException", "InternalServerError"]
)
def test_a_missing_table_or_a_busy_store_is_unavailable_without_our_retries(
    stubbed, pauses, code
) -> None:
    stubber, slots = stubbed
    stubber.add_client_error("delete_item", code, http_status_code=400)

    with pytest.raises(StorageUnavailableError):
        slots.delete(SLOT)

    assert pauses == []


def test_a_guarded_add_refused_by_the_doctor_check_reads_why(stubbed) -> None:
    stubber, slots = stubbed
    cancelled(stubber, "None", "ConditionalCheckFailed")
    stubber.add_response("get_item", {"Item": {"doctor_id": {"S": "doc-1"}}})

    with pytest.raises(Exception, match="being deleted"):
        slots.add_for_doctor("doc-1", [Slot("doc-1", "2026-12-02T09:00:00Z")])


def test_reading_one_doctor_can_be_eventually_consistent() -> None:
    client = boto3.client("dynamodb", region_name="us-east-1")
    doctors = DynamoDoctorRepository(client, TableRef("doctores"))
    item = {
        "doctor_id": {"S": "doc-1"},
        "nombre": {"S": "Dra. Uno"},
        "especialidad": {"S": "cardiologia"},
    }
    with Stubber(client) as stubber:
        key = {"doctor_id": {"S": "doc-1"}}
        stubber.add_response(
            "get_item",
            {"Item": item},
            {"TableName": "doctores", "Key": key, "ConsistentRead": False},
        )
        stubber.add_response(
            "get_item",
            {"Item": item},
            {"TableName": "doctores", "Key": key, "ConsistentRead": True},
        )

        assert doctors.get("doc-1", consistent=False).nombre == "Dra. Uno"
        assert doctors.get("doc-1").nombre == "Dra. Uno"  # strong unless asked


# --- the HTTP statuses ------------------------------------------------------------------------


@pytest.fixture
def app_on_stubber(tmp_path) -> Iterator[tuple[object, Stubber]]:
    """The app on DynamoDB (moto in-process for its start-up checks), then a Stubber in front of
    the client for the requests of the test."""
    with mock_aws():
        settings = load_settings({}).replace(
            storage="dynamodb",
            environment="test",
            api_keys=(ApiKey("admin", ADMIN_KEY), ApiKey("agent", AGENT_KEY)),
            rate_limit="100000/minute",
            key_id_secret="test-key-id-secret-0123456789abcdef",
        )
        create_dynamodb_tables(settings)
        client = build_client(settings.aws_region, settings.dynamodb_endpoint_url)
        storage = DynamoStorage.on_client(client, settings)
        app = create_app({"settings": settings, "storage": storage})
        with Stubber(client) as stubber:
            yield app, stubber
            stubber.assert_no_pending_responses()  # every stubbed answer was asked for
        storage.close()


@pytest.fixture
def error_log() -> Iterator[list[logging.LogRecord]]:
    """The records of the errors logger (its own handler: the app configures the root one)."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("health_api.errors")
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


def test_a_validation_exception_is_a_logged_500_naming_the_operation(
    app_on_stubber, error_log
) -> None:
    app, stubber = app_on_stubber
    stubber.add_client_error(
        "get_item", "ValidationException", "bad value doc-secret", http_status_code=400
    )

    response = app.test_client().get("/api/v1/doctors/doc-1", headers=AGENT)

    body = assert_problem(response, 500)
    assert "Retry-After" not in response.headers
    assert "ValidationException" not in body["detail"]
    [record] = [r for r in error_log if r.levelno == logging.ERROR]
    assert (record.operation, record.error_code) == ("GetItem", "ValidationException")
    assert record.exc_info is None  # no chained botocore text in the log
    assert "doc-secret" not in record.getMessage()


def test_conflicts_that_outlast_the_retries_are_a_503_with_retry_after(
    app_on_stubber, pauses
) -> None:
    app, stubber = app_on_stubber
    for _ in range(items.CONFLICT_ATTEMPTS):
        conflict(stubber, "put_item")

    response = app.test_client().post(
        "/api/v1/doctors",
        json={"doctor_id": "doc-9", "nombre": "Dr. Nueve", "especialidad": "Urología"},
        headers=ADMIN,
    )

    assert_problem(response, 503)
    assert int(response.headers["Retry-After"]) >= 1


def test_a_missing_table_is_a_503(app_on_stubber) -> None:
    app, stubber = app_on_stubber
    stubber.add_client_error("delete_item", "ResourceNotFoundException", http_status_code=400)

    response = app.test_client().delete(
        "/api/v1/doctors/doc-1/schedules/2030-03-04T09%3A00%3A00Z", headers=ADMIN
    )

    assert_problem(response, 503)
    assert response.headers["Retry-After"]
