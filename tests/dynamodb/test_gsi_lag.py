"""Real DynamoDB's eventually consistent ``user_id-index``, shown with a Stubber (no emulator lags).

Right after a cancel the index may still hold the slot as the user's booking; the appointments
listing confirms each page against the base table with a consistent ``BatchGetItem``, so a
cancelled slot is never shown as booked, and the cursor comes from the last *index* item read,
so a dropped item never stalls paging.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.stub import ANY, Stubber

from health_api.domain.errors import StorageAccessError
from health_api.domain.requests import UserBookings
from health_api.storage.dynamodb import bounded
from health_api.storage.dynamodb.storage import DynamoStorage
from health_api.storage.tables import USER_ID_INDEX

T1, T2 = "2030-01-01T09:00:00Z", "2030-01-02T09:00:00Z"


@pytest.fixture
def stubbed(on_moto) -> Iterator[tuple[DynamoStorage, Stubber, str]]:
    """A DynamoStorage on moto's tables whose client is then stubbed: every call is scripted."""
    storage, client, table = on_moto
    with Stubber(client) as stubber:
        yield storage, stubber, table
        stubber.assert_no_pending_responses()


def _item(fecha_hora: str, estado: str = "reservado", user_id: str | None = "u1") -> dict:
    item: dict[str, Any] = {
        "doctor_id": {"S": "d1"},
        "fecha_hora": {"S": fecha_hora},
        "duracion_min": {"N": "30"},
        "estado": {"S": estado},
    }
    if user_id is not None:
        item["user_id"] = {"S": user_id}
    return item


def _key(fecha_hora: str) -> dict:
    return {"doctor_id": {"S": "d1"}, "fecha_hora": {"S": fecha_hora}}


def _index_page(stubber: Stubber, table: str, items: list[dict], after: str | None = None) -> None:
    """The index's answer to the next Query (resuming after ``after``: it must say so)."""
    response: dict[str, Any] = {"Items": items, "Count": len(items), "ScannedCount": len(items)}
    expected = {"TableName": table, "IndexName": USER_ID_INDEX, **_any_query()}
    if after is not None:
        expected["ExclusiveStartKey"] = {**_key(after), "user_id": {"S": "u1"}}
    stubber.add_response("query", response, expected)


def _any_query() -> dict:
    return {
        "KeyConditionExpression": ANY,
        "ExpressionAttributeNames": ANY,
        "ExpressionAttributeValues": ANY,
        "Limit": ANY,
    }


def _base_read(
    stubber: Stubber, table: str, asked: list[str], found: list[dict], unprocessed=None
) -> None:
    response: dict[str, Any] = {"Responses": {table: found}}
    if unprocessed:
        response["UnprocessedKeys"] = {
            table: {"Keys": [_key(t) for t in unprocessed], "ConsistentRead": True}
        }
    expected = {"RequestItems": {table: {"Keys": [_key(t) for t in asked], "ConsistentRead": True}}}
    stubber.add_response("batch_get_item", response, expected)


def test_a_cancel_the_index_has_not_seen_yet_is_not_listed_as_booked(stubbed) -> None:
    storage, stubber, table = stubbed
    # The index still shows T1 booked by u1; the table already says disponible (cancelled).
    _index_page(stubber, table, [_item(T1), _item(T2)])
    _base_read(stubber, table, [T1, T2], [_item(T1, "disponible", None), _item(T2)])

    page = storage.slots.list_for_user(UserBookings("u1"))

    assert [s.fecha_hora for s in page.items] == [T2]
    assert page.next_cursor is None


def test_base_table_values_win_over_the_index_copy(stubbed) -> None:
    storage, stubber, table = stubbed
    stale = _item(T1)
    fresh = {**_item(T1), "motivo": {"S": "control"}, "duracion_min": {"N": "45"}}
    _index_page(stubber, table, [stale])
    _base_read(stubber, table, [T1], [fresh])

    (slot,) = storage.slots.list_for_user(UserBookings("u1")).items

    assert (slot.motivo, slot.duracion_min) == ("control", 45)


def test_a_slot_booked_by_another_user_since_is_dropped(stubbed) -> None:
    storage, stubber, table = stubbed
    _index_page(stubber, table, [_item(T1)])
    _base_read(stubber, table, [T1], [_item(T1, user_id="u2")])

    assert storage.slots.list_for_user(UserBookings("u1")).items == []


def test_a_dropped_item_still_moves_the_cursor_so_paging_goes_on(stubbed) -> None:
    storage, stubber, table = stubbed
    # limit 1: the index gives T1 (stale) and T2 (the "more" probe).
    _index_page(stubber, table, [_item(T1), _item(T2)])
    _base_read(stubber, table, [T1], [_item(T1, "disponible", None)])
    _index_page(stubber, table, [_item(T2)], after=T1)
    _base_read(stubber, table, [T2], [_item(T2)])

    first = storage.slots.list_for_user(UserBookings("u1", limit=1))
    second = storage.slots.list_for_user(UserBookings("u1", limit=1, cursor=first.next_cursor))

    assert first.items == []
    assert first.next_cursor is not None
    assert [s.fecha_hora for s in second.items] == [T2]
    assert second.next_cursor is None


def test_unprocessed_keys_are_asked_again(stubbed, monkeypatch) -> None:
    storage, stubber, table = stubbed
    monkeypatch.setattr(bounded, "_pause", lambda _seconds: None)
    _index_page(stubber, table, [_item(T1), _item(T2)])
    _base_read(stubber, table, [T1, T2], [_item(T1)], unprocessed=[T2])
    _base_read(stubber, table, [T2], [_item(T2)])

    page = storage.slots.list_for_user(UserBookings("u1"))

    assert [s.fecha_hora for s in page.items] == [T1, T2]


def test_keys_left_unprocessed_after_the_bounded_retries_are_a_throttled_error(
    stubbed, monkeypatch
) -> None:
    storage, stubber, table = stubbed
    pauses: list[float] = []
    monkeypatch.setattr(bounded, "_pause", pauses.append)
    _index_page(stubber, table, [_item(T1)])
    for _ in range(bounded.BATCH_GET_ATTEMPTS):
        _base_read(stubber, table, [T1], [], unprocessed=[T1])

    with pytest.raises(StorageAccessError) as caught:
        storage.slots.list_for_user(UserBookings("u1"))

    assert caught.value.kind == "throttled"
    assert len(pauses) == bounded.BATCH_GET_ATTEMPTS - 1
    assert pauses == sorted(pauses)  # backs off


def test_more_than_a_hundred_items_are_confirmed_in_chunks_of_a_hundred(stubbed) -> None:
    storage, stubber, table = stubbed
    times = [f"2030-01-01T{h:02d}:{m:02d}:00Z" for h in range(10) for m in range(0, 60, 5)][:101]
    items = [_item(t) for t in times]
    _base_read(stubber, table, times[:100], items[:100])
    _base_read(stubber, table, times[100:], items[100:])

    found = bounded.read_many(
        storage.slots._client, storage.slots._table, [("d1", t) for t in times]
    )

    assert sorted(f for _, f in found) == times
