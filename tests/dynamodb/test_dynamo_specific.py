"""DynamoDB-only behaviour: renamed key attributes, start-up refusals, fault translation, cursors.

Everything here runs on moto in-process (``mock_aws``); the booking race, which needs a
serialised server, is in ``test_booking_race.py``.
"""

from __future__ import annotations

import dataclasses
import io
import json
from collections.abc import Iterator

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws

from health_api.config import Settings, load_settings
from health_api.domain.errors import (
    InvalidCursorError,
    NotFoundError,
    SlotTakenError,
    StorageAccessError,
    StorageUnavailableError,
)
from health_api.domain.models import RESERVADO, Doctor, Slot, SlotKey
from health_api.domain.requests import BookingRequest, SessionPatch, SlotRange, UserBookings
from health_api.storage import cursor as cursors
from health_api.storage.base import IdempotencyRecord
from health_api.storage.dynamodb import admin
from health_api.storage.dynamodb.client import build_client
from health_api.storage.dynamodb.storage import DynamoStorage
from health_api.storage.tables import (
    DOCTORES,
    ESPECIALIDAD_INDEX,
    HORARIOS_DOCTORES,
    IDEMPOTENCY_KEYS,
    USER_ID_INDEX,
    USER_SESSIONS,
    IndexSpec,
    KeyAttribute,
    TableSpec,
    table_specs,
)

NOW = 1_900_000_000


@pytest.fixture
def settings() -> Iterator[Settings]:
    """Settings for DynamoDB on moto in-process (active for the whole test)."""
    with mock_aws():
        yield load_settings({}).replace(storage="dynamodb")


def _client(settings: Settings):
    return build_client(settings.aws_region, settings.dynamodb_endpoint_url)


def _create(settings: Settings, specs) -> None:
    admin.create_tables(_client(settings), specs, waiting=admin.Waiting(delay=1))


def _renamed_specs(settings: Settings) -> dict[str, TableSpec]:
    """The spec'd tables, with every key attribute called something else."""
    specs = table_specs(settings)
    starts_at = KeyAttribute("starts_at")
    physician_id = KeyAttribute("physician_id")
    return {
        DOCTORES: dataclasses.replace(
            specs[DOCTORES],
            hash_key=physician_id,
            indexes=(IndexSpec(ESPECIALIDAD_INDEX, KeyAttribute("specialty_key"), physician_id),),
        ),
        HORARIOS_DOCTORES: dataclasses.replace(
            specs[HORARIOS_DOCTORES],
            hash_key=KeyAttribute("physician_id"),
            range_key=starts_at,
            indexes=(IndexSpec(USER_ID_INDEX, KeyAttribute("patient_id"), starts_at),),
        ),
        USER_SESSIONS: dataclasses.replace(
            specs[USER_SESSIONS], hash_key=KeyAttribute("session_user")
        ),
        IDEMPOTENCY_KEYS: dataclasses.replace(
            specs[IDEMPOTENCY_KEYS], hash_key=KeyAttribute("record_key")
        ),
    }


def test_repositories_work_on_tables_whose_keys_have_other_names(settings) -> None:
    specs = _renamed_specs(settings)
    _create(settings, specs.values())
    storage = DynamoStorage.open(settings)
    doctor = Doctor("d1", "Dra. Núñez", "Cardiología", idiomas=("es",))

    storage.doctors.create(doctor)
    storage.doctors.update("d1", {"centro": "Norte"})
    by_specialty = storage.doctors.list_by_specialty("CARDIOLOGIA", 10)
    storage.slots.add_many([Slot("d1", f"2030-01-0{d}T09:00:00Z") for d in (1, 2, 3)])
    storage.slots.book(
        BookingRequest(SlotKey("d1", "2030-01-01T09:00:00Z"), "u1", "control"),
        "2029-12-01T00:00:00Z",
    )
    moved = storage.slots.reschedule(
        "u1",
        SlotKey("d1", "2030-01-01T09:00:00Z"),
        SlotKey("d1", "2030-01-02T09:00:00Z"),
        "2029-12-02T00:00:00Z",
    )
    first = storage.slots.list_range(
        SlotRange("d1", "2030-01-01T00:00:00Z", "2030-01-31T00:00:00Z", limit=2)
    )
    second = storage.slots.list_range(
        SlotRange(
            "d1", "2030-01-01T00:00:00Z", "2030-01-31T00:00:00Z", limit=2, cursor=first.next_cursor
        )
    )
    storage.sessions.put("u1", {"paso": 1}, 60, NOW)
    session = storage.sessions.merge("u1", SessionPatch({"idioma": "es"}, 60), NOW)
    claim = IdempotencyRecord("k1", "h", "t", NOW, NOW + 60)
    claimed = storage.idempotency.claim(claim, NOW, NOW - 30)

    assert by_specialty.items == [dataclasses.replace(doctor, centro="Norte")]
    assert moved.user_id == "u1"
    assert moved.motivo == "control"
    assert [s.fecha_hora[:10] for s in first.items + second.items] == [
        "2030-01-01",
        "2030-01-02",
        "2030-01-03",
    ]
    assert second.next_cursor is None
    assert storage.slots.list_for_user(UserBookings("u1")).items == [moved]
    assert session.data == {"paso": 1, "idioma": "es"}
    assert claimed
    assert storage.idempotency.get("k1", NOW) == claim
    raw = boto3.client("dynamodb", region_name=settings.aws_region)
    stored = raw.get_item(
        TableName=specs[HORARIOS_DOCTORES].name,
        Key={"physician_id": {"S": "d1"}, "starts_at": {"S": "2030-01-02T09:00:00Z"}},
    )["Item"]
    assert stored["patient_id"] == {"S": "u1"}
    assert "doctor_id" not in stored
    assert "user_id" not in stored
    storage.close()


def test_start_up_refuses_a_missing_table_and_says_how_to_fix_it(settings) -> None:
    specs = table_specs(settings)
    _create(settings, [specs[DOCTORES], specs[USER_SESSIONS]])

    with pytest.raises(StorageUnavailableError) as caught:
        DynamoStorage.open(settings)

    message = str(caught.value)
    assert specs[HORARIOS_DOCTORES].name in message
    assert "does not exist" in message
    assert "setup_tables.py" in message


def test_start_up_refuses_a_key_of_the_wrong_type(settings) -> None:
    specs = table_specs(settings)
    wrong = dataclasses.replace(specs[DOCTORES], hash_key=KeyAttribute("doctor_id", "N"))
    _create(settings, [wrong, specs[HORARIOS_DOCTORES], specs[USER_SESSIONS]])

    with pytest.raises(StorageUnavailableError) as caught:
        DynamoStorage.open(settings)

    assert "doctor_id has type N, expected S" in str(caught.value)
    assert specs[DOCTORES].name in str(caught.value)


def test_start_up_refuses_a_table_without_the_gsi_the_queries_need(settings) -> None:
    specs = table_specs(settings)
    bare = dataclasses.replace(specs[HORARIOS_DOCTORES], indexes=())
    _create(settings, [specs[DOCTORES], bare, specs[USER_SESSIONS]])

    with pytest.raises(StorageUnavailableError, match="GSI user_id-index is missing"):
        DynamoStorage.open(settings)


def test_a_table_without_ttl_opens_and_readiness_reports_it(settings) -> None:
    specs = table_specs(settings)
    client = _client(settings)
    for spec in specs.values():
        client.create_table(**spec.create_table_request())  # no UpdateTimeToLive

    storage = DynamoStorage.open(settings)
    reports = {r.logical: r for r in storage.check_tables()}

    assert reports[DOCTORES].ok
    assert any("TTL is off" in d for d in reports[USER_SESSIONS].differences)
    storage.close()


@pytest.fixture
def storage_client(settings):
    """An opened DynamoStorage and the client it uses (for stubs and event hooks)."""
    _create(settings, table_specs(settings).values())
    client = _client(settings)
    storage = DynamoStorage.on_client(client, settings)
    yield storage, client
    storage.close()


@pytest.mark.parametrize(
    ("code", "status"),
    [("ThrottlingException", 400), ("InternalServerError", 500)],
)
def test_throttling_and_server_errors_are_storage_unavailable(storage_client, code, status):
    storage, client = storage_client

    with Stubber(client) as stubber:
        stubber.add_client_error("get_item", service_error_code=code, http_status_code=status)
        with pytest.raises(StorageUnavailableError) as caught:
            storage.slots.get(SlotKey("d1", "2030-01-01T09:00:00Z"))

    assert not isinstance(caught.value, ClientError)
    assert isinstance(caught.value.__cause__, ClientError)


class _Body(io.BytesIO):
    def stream(self, **_kwargs):
        yield self.getvalue()


def test_throttling_that_outlives_the_retries_is_storage_unavailable(storage_client, monkeypatch):
    storage, client = storage_client
    monkeypatch.setattr("time.sleep", lambda _seconds: None)  # the retry backoff
    attempts = []

    def throttle(request, **_kwargs):
        attempts.append(request.url)
        body = json.dumps({"__type": "ThrottlingException", "message": "slow down"}).encode()
        return AWSResponse(request.url, 400, {}, _Body(body))

    client.meta.events.register("before-send.dynamodb.UpdateItem", throttle)

    with pytest.raises(StorageAccessError) as caught:
        storage.slots.book(BookingRequest(SlotKey("d1", "2030-01-01T09:00:00Z"), "u1"), "now")

    assert caught.value.kind == "throttled"
    assert len(attempts) > 1  # botocore's standard mode retried before giving up


def test_a_cursor_of_another_query_is_refused_before_any_call(storage_client) -> None:
    storage, client = storage_client
    storage.slots.add_many([Slot("d1", f"2030-01-0{d}T09:00:00Z") for d in (1, 2, 3)])
    page = storage.slots.list_range(
        SlotRange("d1", "2030-01-01T00:00:00Z", "2030-01-31T00:00:00Z", limit=1)
    )
    storage.doctors.create(Doctor("d1", "Dr. A", "Pediatría"))
    doctors = storage.doctors.list_all(1)
    assert page.next_cursor is not None

    with Stubber(client):  # any AWS call would now fail with UnStubbedResponseError
        with pytest.raises(InvalidCursorError):
            storage.slots.list_range(
                SlotRange(
                    "d2", "2030-01-01T00:00:00Z", "2030-01-31T00:00:00Z", cursor=page.next_cursor
                )
            )
        with pytest.raises(InvalidCursorError):
            storage.slots.list_for_user(UserBookings("u1", cursor=page.next_cursor))
        with pytest.raises(InvalidCursorError):
            storage.doctors.list_by_specialty("pediatria", 10, cursor=page.next_cursor)
        with pytest.raises(InvalidCursorError):
            storage.slots.list_range(
                SlotRange(
                    "d1",
                    "2030-01-01T00:00:00Z",
                    "2030-01-31T00:00:00Z",
                    cursor=page.next_cursor + "x",
                )
            )
        with pytest.raises(InvalidCursorError):
            storage.doctors.list_all(1, cursor="not-a-cursor")
    assert doctors.items[0].doctor_id == "d1"


def test_a_crafted_cursor_outside_the_range_is_refused(storage_client) -> None:
    storage, client = storage_client
    desde, hasta = "2030-01-01T00:00:00Z", "2030-01-31T00:00:00Z"
    query = cursors.fingerprint("dynamodb", "horarios_doctores", "d1", desde, hasta, None)
    crafted = cursors.encode(query, {"fecha_hora": "2031-06-01T00:00:00Z"})

    with Stubber(client), pytest.raises(InvalidCursorError):
        storage.slots.list_range(SlotRange("d1", desde, hasta, cursor=crafted))


def test_a_released_slot_leaves_the_sparse_user_index(storage_client, settings) -> None:
    storage, client = storage_client
    key = SlotKey("d1", "2030-01-01T09:00:00Z")
    storage.slots.add_many([Slot(key.doctor_id, key.fecha_hora)])
    storage.slots.book(BookingRequest(key, "u1", "dolor"), "2029-12-01T00:00:00Z")

    storage.slots.cancel(key, "u1")

    item = client.get_item(
        TableName=table_specs(settings)[HORARIOS_DOCTORES].name,
        Key={"doctor_id": {"S": "d1"}, "fecha_hora": {"S": key.fecha_hora}},
    )["Item"]
    assert set(item) == {"doctor_id", "fecha_hora", "duracion_min", "estado"}
    assert storage.slots.list_for_user(UserBookings("u1")).items == []


def test_add_many_never_overwrites_a_slot_created_meanwhile(storage_client) -> None:
    storage, _client = storage_client
    key = SlotKey("d1", "2030-01-02T09:00:00Z")
    storage.slots.add_many([Slot(key.doctor_id, key.fecha_hora)])
    storage.slots.book(BookingRequest(key, "u1"), "2029-12-01T00:00:00Z")
    unique = [
        Slot("d1", f"2030-01-{d:02d}T{h:02d}:00:00Z") for d in range(1, 29) for h in range(8, 14)
    ]
    slots = unique + unique[:20]  # 168 distinct keys (two transactions), 20 repeated

    result = storage.slots.add_many(slots)

    assert (result.created, result.skipped) == (167, 21)
    assert storage.slots.get(key).user_id == "u1"
    assert storage.slots.get(key).estado == RESERVADO
    with pytest.raises(SlotTakenError):
        storage.slots.book(BookingRequest(key, "u2"), "2029-12-01T00:00:00Z")
    with pytest.raises(NotFoundError):
        storage.slots.get(SlotKey("d1", "2030-02-01T09:00:00Z"))


def test_start_up_refuses_a_gsi_whose_key_is_named_unlike_the_table_key(settings) -> None:
    specs = _renamed_specs(settings)
    clash = dataclasses.replace(
        specs[HORARIOS_DOCTORES],
        indexes=(IndexSpec(USER_ID_INDEX, KeyAttribute("patient_id"), KeyAttribute("fecha")),),
    )
    _create(settings, [specs[DOCTORES], clash, specs[USER_SESSIONS]])

    with pytest.raises(
        StorageUnavailableError, match="RANGE key fecha must be the table's starts_at"
    ):
        DynamoStorage.open(settings)
