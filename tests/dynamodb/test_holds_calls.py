"""What a hold asks of DynamoDB: one TransactWriteItems (slot + the user's seats item), seen
through a Stubber; and, through event hooks on moto, the calls of booking with and without a
hold and where the seats item lives."""

from __future__ import annotations

import pytest
from botocore.stub import ANY, Stubber

from health_api.domain.models import RESERVADO, Slot, SlotKey
from health_api.domain.requests import BookingRequest, HoldRequest, UserBookings
from health_api.storage.dynamodb.holds import SEATS_PREFIX, SEATS_RANGE

NOW = "2030-01-01T00:00:00Z"
EXPIRY = "2030-01-01T00:05:00Z"
T1, T2 = "2030-01-02T09:00:00Z", "2030-01-02T10:00:00Z"
A, B = SlotKey("d1", T1), SlotKey("d1", T2)


@pytest.fixture
def calls(on_moto) -> list[tuple[str, dict]]:
    """Every DynamoDB call the storage makes from now on: (operation, parameters)."""
    _storage, client, _table = on_moto
    seen: list[tuple[str, dict]] = []

    def record(model, params, **_kwargs):
        seen.append((model.name, params))

    client.meta.events.register("provide-client-params.dynamodb", record)
    return seen


def test_a_hold_is_one_transaction_of_the_slot_and_a_seat(on_moto) -> None:
    storage, client, table = on_moto
    slot_item = {
        "doctor_id": {"S": "d1"},
        "fecha_hora": {"S": T1},
        "duracion_min": {"N": "30"},
        "estado": {"S": "retenido"},
        "retenido_por": {"S": "u1"},
        "retenido_hasta": {"S": EXPIRY},
        "retencion": {"S": "n1"},
        "retenido_asiento": {"S": "s0"},
    }
    with Stubber(client) as stubber:
        stubber.add_response("transact_write_items", {}, {"TransactItems": ANY})
        stubber.add_response(
            "get_item",
            {"Item": slot_item},
            {"TableName": table, "Key": ANY, "ConsistentRead": True},
        )
        result = storage.slots.hold(HoldRequest(A, "u1", "n1", EXPIRY, 3), NOW)
        stubber.assert_no_pending_responses()

    assert result.created is True
    assert (result.hold.user_id, result.hold.nonce, result.hold.expires_at) == ("u1", "n1", EXPIRY)


def test_the_hold_transaction_conditions_the_slot_and_one_free_seat(on_moto, calls) -> None:
    storage, _client, table = on_moto
    storage.slots.add_many([Slot("d1", T1)])
    calls.clear()

    storage.slots.hold(HoldRequest(A, "u1", "n1", EXPIRY, 3), NOW)

    writes = [params for name, params in calls if name == "TransactWriteItems"]
    assert [name for name, _ in calls] == ["TransactWriteItems", "GetItem"]
    slot, seat = (item["Update"] for item in writes[0]["TransactItems"])
    assert slot["Key"] == {"doctor_id": {"S": "d1"}, "fecha_hora": {"S": T1}}
    assert seat["Key"] == {
        "doctor_id": {"S": SEATS_PREFIX + "u1"},
        "fecha_hora": {"S": SEATS_RANGE},
    }
    assert seat["ConditionExpression"] == "attribute_not_exists(#seat) OR #seat.#hasta <= :now"
    assert slot["TableName"] == seat["TableName"] == table


def test_the_seats_item_stays_out_of_the_user_index(on_moto) -> None:
    storage, client, table = on_moto
    storage.slots.add_many([Slot("d1", T1)])
    storage.slots.hold(HoldRequest(A, "u1", "n1", EXPIRY, 3), NOW)

    seats = client.get_item(
        TableName=table,
        Key={"doctor_id": {"S": SEATS_PREFIX + "u1"}, "fecha_hora": {"S": SEATS_RANGE}},
    )["Item"]

    assert "user_id" not in seats
    assert seats["s0"]["M"]["hasta"] == {"S": EXPIRY}
    assert storage.slots.list_for_user(UserBookings("u1"), now=NOW).items == []


def test_a_plain_booking_of_a_free_slot_stays_one_update_item(on_moto, calls) -> None:
    storage, _client, _table = on_moto
    storage.slots.add_many([Slot("d1", T1)])
    calls.clear()

    storage.slots.book(BookingRequest(A, "u1"), NOW)

    assert [name for name, _ in calls] == ["UpdateItem"]


def test_booking_with_the_hold_nonce_is_one_read_and_one_transaction(on_moto, calls) -> None:
    storage, _client, _table = on_moto
    storage.slots.add_many([Slot("d1", T1)])
    storage.slots.hold(HoldRequest(A, "u1", "n1", EXPIRY, 3), NOW)
    calls.clear()

    booked = storage.slots.book(BookingRequest(A, "u1", "control", hold_nonce="n1"), NOW)

    assert [name for name, _ in calls] == ["GetItem", "TransactWriteItems"]
    assert len(calls[1][1]["TransactItems"]) == 2  # the slot and the seat it frees
    assert (booked.slot.estado, booked.slot.retenido_por) == (RESERVADO, None)


def test_booking_an_own_hold_without_nonce_is_the_update_then_one_transaction(
    on_moto, calls
) -> None:
    storage, _client, _table = on_moto
    storage.slots.add_many([Slot("d1", T1), Slot("d1", T2)])
    storage.slots.hold(HoldRequest(A, "u1", "n1", EXPIRY, 1), NOW)
    calls.clear()

    storage.slots.book(BookingRequest(A, "u1"), NOW)

    assert [name for name, _ in calls] == ["UpdateItem", "TransactWriteItems"]
    assert (
        storage.slots.hold(HoldRequest(B, "u1", "n2", EXPIRY, 1), NOW).created is True
    )  # seat freed
