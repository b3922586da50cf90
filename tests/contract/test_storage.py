"""The Storage bundle: table names, readiness reports and connection lifecycle, both backends."""

from __future__ import annotations

from health_api.domain.models import Doctor, Slot, SlotKey
from health_api.domain.requests import BookingRequest


def test_every_table_matches_its_spec_on_a_fresh_store(storage) -> None:
    reports = storage.check_tables()

    assert [r.logical for r in reports] == [
        "doctores",
        "horarios_doctores",
        "user_sessions",
        "idempotency_keys",
    ]
    assert all(r.exists and r.ok for r in reports), [r.differences for r in reports]


def test_prefixed_and_overridden_table_names_are_used(make_storage) -> None:
    store = make_storage(table_prefix="clinic-", table_user_sessions="chat_sessions")

    store.doctors.create(Doctor("doc-1", "Dra. Ruiz", "Pediatría"))

    names = {r.logical: r.name for r in store.check_tables()}
    assert names == {
        "doctores": "clinic-doctores",
        "horarios_doctores": "clinic-horarios_doctores",
        "user_sessions": "chat_sessions",
        "idempotency_keys": "clinic-idempotency_keys",
    }
    assert store.doctors.get("doc-1").nombre == "Dra. Ruiz"


def test_release_then_reuse_keeps_working(storage) -> None:
    storage.slots.add_many([Slot("doc-1", "2026-12-01T09:00:00Z")])

    storage.release()

    assert storage.slots.get(SlotKey("doc-1", "2026-12-01T09:00:00Z")).estado == "disponible"


def test_two_stores_on_the_same_tables_see_each_others_writes(make_storage) -> None:
    writer = make_storage()
    reader = make_storage()

    writer.slots.add_many([Slot("doc-1", "2026-12-01T09:00:00Z")])
    writer.slots.book(
        BookingRequest(SlotKey("doc-1", "2026-12-01T09:00:00Z"), "user-a"), "2026-11-30T09:00:00Z"
    )

    assert reader.slots.get(SlotKey("doc-1", "2026-12-01T09:00:00Z")).user_id == "user-a"
