"""What DynamoDB is asked, and how much it reads: seen through botocore event hooks on moto, and a
Stubber where only real DynamoDB's answer shows the case (a read budget spent on a filter).

- Reschedule is two calls: one consistent BatchGetItem of both slots, then the transaction.
- Availability and the 409's ``alternativas`` read eventually consistent (half the read units).
- A filtered Query that reads its whole budget without a match answers an empty page with a
  cursor, and makes no further call in that request.
"""

from __future__ import annotations

import pytest
from botocore.stub import ANY, Stubber
from freezegun import freeze_time

from health_api.domain.errors import SlotTakenError
from health_api.domain.models import DISPONIBLE, Doctor, Slot, SlotKey
from health_api.domain.requests import BookingRequest, SlotRange
from health_api.services import availability, booking
from health_api.storage.dynamodb import bounded
from tests.callers import AGENT_CALLER

NOW = "2030-01-01T00:00:00Z"
T1, T2, T3 = "2030-01-02T09:00:00Z", "2030-01-02T10:00:00Z", "2030-01-02T11:00:00Z"


@pytest.fixture
def calls(on_moto) -> list[tuple[str, dict]]:
    """Every DynamoDB call the storage makes from now on: (operation, parameters)."""
    _storage, client, _table = on_moto
    seen: list[tuple[str, dict]] = []

    def record(model, params, **_kwargs):
        seen.append((model.name, params))

    client.meta.events.register("provide-client-params.dynamodb", record)
    return seen


def test_reschedule_reads_both_slots_in_one_call_then_writes_one_transaction(
    on_moto, calls
) -> None:
    storage, _client, table = on_moto
    storage.slots.add_many([Slot("d1", T1), Slot("d1", T2, duracion_min=45)])
    storage.slots.book(BookingRequest(SlotKey("d1", T1), "u1", "control"), NOW)
    calls.clear()

    moved = storage.slots.reschedule("u1", SlotKey("d1", T1), SlotKey("d1", T2), NOW)

    assert [name for name, _ in calls] == ["BatchGetItem", "TransactWriteItems"]
    assert calls[0][1]["RequestItems"][table]["ConsistentRead"] is True
    assert (moved.duracion_min, moved.motivo, moved.user_id) == (45, "control", "u1")
    assert storage.slots.get(SlotKey("d1", T2)) == moved


def test_a_retried_reschedule_after_success_is_one_read_and_no_write(on_moto, calls) -> None:
    storage, _client, _table = on_moto
    storage.slots.add_many([Slot("d1", T1), Slot("d1", T2)])
    storage.slots.book(BookingRequest(SlotKey("d1", T1), "u1"), NOW)
    first = storage.slots.reschedule("u1", SlotKey("d1", T1), SlotKey("d1", T2), NOW)
    calls.clear()

    again = storage.slots.reschedule("u1", SlotKey("d1", T1), SlotKey("d1", T2), NOW)

    assert again == first
    assert [name for name, _ in calls] == ["BatchGetItem"]


def test_availability_reads_eventually_consistent(on_moto, calls) -> None:
    storage, _client, _table = on_moto
    storage.doctors.create(Doctor("d1", "Dra. Uno", "Cardiología"))
    storage.doctors.create(Doctor("d2", "Dr. Dos", "Cardiología"))
    storage.slots.add_many([Slot("d1", T1), Slot("d2", T2)])
    calls.clear()

    with freeze_time(NOW):
        page = availability.find_availability(
            storage, "cardiologia", NOW, T3, 10, caller=AGENT_CALLER
        )

    queries = [params for name, params in calls if name == "Query"]
    assert [f.slot.fecha_hora for f in page.items] == [T1, T2]
    assert len(queries) == 3  # the specialty index, then one per doctor
    assert all(not q.get("ConsistentRead") for q in queries)


def test_the_alternatives_of_a_taken_slot_read_eventually_consistent(on_moto, calls) -> None:
    storage, _client, _table = on_moto
    storage.slots.add_many([Slot("d1", t) for t in (T1, T2, T3)])
    storage.slots.book(BookingRequest(SlotKey("d1", T1), "u1"), NOW)
    calls.clear()

    with freeze_time(NOW), pytest.raises(SlotTakenError) as caught:
        booking.book_slot(storage, SlotKey("d1", T1), "u2", None, caller=AGENT_CALLER)

    assert [s.fecha_hora for s in caught.value.alternativas] == [T2, T3]
    (query,) = [params for name, params in calls if name == "Query"]
    assert query["ConsistentRead"] is False


def test_a_budget_spent_without_a_match_is_an_empty_page_with_a_cursor(on_moto, monkeypatch):
    storage, client, table = on_moto
    monkeypatch.setattr(bounded, "READ_BUDGET", 50)
    last = {"doctor_id": {"S": "d1"}, "fecha_hora": {"S": T2}}

    with Stubber(client) as stubber:
        # Real DynamoDB: 50 items read, none disponible, more left in the range.
        stubber.add_response(
            "query",
            {"Items": [], "Count": 0, "ScannedCount": 50, "LastEvaluatedKey": last},
            {
                "TableName": table,
                "KeyConditionExpression": ANY,
                "FilterExpression": ANY,
                "ExpressionAttributeNames": ANY,
                "ExpressionAttributeValues": ANY,
                "ConsistentRead": True,
                "Limit": 50,
            },
        )
        page = storage.slots.list_range(SlotRange("d1", T1, T3, estado=DISPONIBLE, limit=20))
        stubber.assert_no_pending_responses()  # and no second call was made

    assert page.items == []
    assert page.next_cursor is not None
    with Stubber(client) as stubber:
        stubber.add_response(
            "query",
            {"Items": [], "Count": 0, "ScannedCount": 1},
            {
                "TableName": table,
                "KeyConditionExpression": ANY,
                "FilterExpression": ANY,
                "ExpressionAttributeNames": ANY,
                "ExpressionAttributeValues": ANY,
                "ConsistentRead": True,
                "Limit": ANY,
                "ExclusiveStartKey": last,  # resumes past what was read, not from the start
            },
        )
        rest = storage.slots.list_range(
            SlotRange("d1", T1, T3, estado=DISPONIBLE, limit=20, cursor=page.next_cursor)
        )

    assert (rest.items, rest.next_cursor) == ([], None)


def test_one_availability_request_reads_at_most_its_budget_over_all_doctors(
    on_moto, monkeypatch
) -> None:
    storage, client, _table = on_moto
    monkeypatch.setattr(availability, "READ_BUDGET", 20)
    for n in range(10):
        storage.doctors.create(Doctor(f"d{n}", f"Dr. {n}", "Cardiología"))
        storage.slots.add_many(
            [Slot(f"d{n}", f"2030-01-02T{h:02d}:00:00Z", estado="bloqueado") for h in range(20)]
            + [Slot(f"d{n}", "2030-01-02T21:00:00Z")]
        )
    scanned: list[int] = []
    client.meta.events.register(
        "after-call.dynamodb.Query",
        lambda parsed, **_: scanned.append(int(parsed.get("ScannedCount", 0))),
    )

    with freeze_time(NOW):
        cursor, pages = None, 0
        while True:
            scanned.clear()
            page = availability.find_availability(
                storage, "cardiologia", NOW, "2030-01-03T00:00:00Z", 20, cursor, caller=AGENT_CALLER
            )
            pages += 1
            # The specialty index's doctors, then the slot items: 20 at most over 10 doctors.
            assert scanned[0] == 10
            assert sum(scanned[1:]) <= 20
            cursor = page.next_cursor
            if cursor is None:
                break

    assert pages > 1
