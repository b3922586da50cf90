"""Races on DynamoDB Local: 32 threads booking one slot, concurrent session merges.

AWS's DynamoDB Local applies each conditional write atomically, as DynamoDB does per item, so
threads racing through one client are a faithful test of the conditional writes themselves
(moto's in-process backend is not atomic under threads and is not used for races).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from health_api.config import load_settings
from health_api.domain.errors import SlotTakenError
from health_api.domain.models import RESERVADO, Slot, SlotKey
from health_api.domain.requests import BookingRequest, SessionPatch
from health_api.storage.dynamodb.storage import DynamoStorage
from tests.conftest import create_dynamodb_tables, drop_dynamodb_tables
from tests.races import race

THREADS = 32
ROUNDS = 25


@pytest.fixture
def storage(dynamodb_local: str, table_prefix: str) -> Iterator[DynamoStorage]:
    """A DynamoStorage on fresh tables of the session's DynamoDB Local."""
    settings = load_settings({}).replace(
        storage="dynamodb", dynamodb_endpoint_url=dynamodb_local, table_prefix=table_prefix
    )
    create_dynamodb_tables(settings)
    store = DynamoStorage.open(settings)
    yield store
    store.close()
    drop_dynamodb_tables(settings)


def test_exactly_one_of_32_concurrent_bookings_wins_every_round(storage) -> None:
    keys = [
        SlotKey("d1", f"2030-01-01T{8 + r // 4:02d}:{r % 4 * 15:02d}:00Z") for r in range(ROUNDS)
    ]
    storage.slots.add_many([Slot(k.doctor_id, k.fecha_hora) for k in keys])

    for key in keys:
        results, errors = race(
            THREADS,
            lambda n, key=key: storage.slots.book(
                BookingRequest(key, f"user-{n}"), "2029-12-01T00:00:00Z"
            ),
        )

        assert len(results) == 1, f"{len(results)} bookings of {key.fecha_hora} succeeded"
        assert len(errors) == THREADS - 1
        assert all(isinstance(e, SlotTakenError) for e in errors), errors
        winner = results[0]
        assert winner.created
        stored = storage.slots.get(key)
        assert stored.estado == RESERVADO
        assert stored.user_id == winner.slot.user_id


def test_concurrent_session_merges_never_lose_a_key(storage) -> None:
    now = 1_900_000_000
    for round_number in range(5):
        user_id = f"user-{round_number}"
        storage.sessions.put(user_id, {}, 600, now)

        _results, errors = race(
            8, lambda n, u=user_id: storage.sessions.merge(u, SessionPatch({f"k{n}": n}, 600), now)
        )

        assert errors == []
        assert storage.sessions.get(user_id, now).data == {f"k{n}": n for n in range(8)}
