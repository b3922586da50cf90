"""Holds under concurrency, on SQLite and DynamoDB Local (moto's in-process backend is not atomic
under threads, so races skip it): one slot, many users; one user, many slots, at the limit."""

from __future__ import annotations

from collections import Counter

import pytest

from health_api.domain.errors import HoldLimitError, SlotTakenError
from health_api.domain.models import RETENIDO, Slot, SlotKey
from health_api.domain.requests import HoldRequest, SlotRange
from tests.races import race

NOW = "2029-12-01T08:00:00Z"
EXPIRY = "2029-12-01T08:05:00Z"


@pytest.fixture(autouse=True)
def no_moto(backend: str) -> None:
    if backend == "moto":
        pytest.skip("moto's in-process backend is not atomic under threads")


def test_fifty_users_holding_one_slot_leave_exactly_one_hold(storage) -> None:
    key = SlotKey("d1", "2030-01-01T09:00:00Z")
    storage.slots.add_many([Slot(key.doctor_id, key.fecha_hora)])

    results, errors = race(
        50,
        lambda n: storage.slots.hold(HoldRequest(key, f"user-{n}", f"nonce-{n}", EXPIRY, 3), NOW),
    )

    assert [r.created for r in results] == [True]
    assert len(errors) == 49
    assert all(isinstance(e, SlotTakenError) for e in errors), Counter(map(type, errors))
    stored = storage.slots.get(key, now=NOW)
    assert (stored.estado, stored.retenido_por) == (RETENIDO, results[0].hold.user_id)


def test_twenty_parallel_holds_of_one_user_win_exactly_the_limit(storage) -> None:
    keys = [SlotKey("d1", f"2030-01-01T{8 + n // 4:02d}:{n % 4 * 15:02d}:00Z") for n in range(20)]
    storage.slots.add_many([Slot(k.doctor_id, k.fecha_hora) for k in keys])

    results, errors = race(
        20,
        lambda n: storage.slots.hold(HoldRequest(keys[n], "user-a", f"nonce-{n}", EXPIRY, 3), NOW),
    )

    assert len(results) == 3
    assert all(r.created for r in results)
    assert all(isinstance(e, HoldLimitError) for e in errors), Counter(map(type, errors))
    window = SlotRange("d1", keys[0].fecha_hora, keys[-1].fecha_hora, estado=RETENIDO, limit=50)
    held = storage.slots.list_range(window, now=NOW)
    assert sorted(s.fecha_hora for s in held.items) == sorted(r.hold.fecha_hora for r in results)
