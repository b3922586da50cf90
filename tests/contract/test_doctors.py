"""DoctorRepository contract: the same behaviour on SQLite and DynamoDB."""

from __future__ import annotations

import pytest

from health_api.domain.errors import ConflictError, InvalidCursorError, NotFoundError
from health_api.domain.models import Doctor, normalize_especialidad


def doctor(doctor_id: str = "doc-1", especialidad: str = "Cardiología", **extra) -> Doctor:
    return Doctor(
        doctor_id=doctor_id, nombre=f"Dra. {doctor_id}", especialidad=especialidad, **extra
    )


def test_create_then_get_returns_every_field(storage) -> None:
    created = storage.doctors.create(
        doctor(
            centro="Clínica Norte", telefono="+34 600 000 000", email="a@b.es", idiomas=("es", "en")
        )
    )

    fetched = storage.doctors.get("doc-1")

    assert fetched == created
    assert fetched.especialidad == "Cardiología"
    assert fetched.idiomas == ("es", "en")


def test_optional_fields_are_none_when_absent(storage) -> None:
    storage.doctors.create(doctor())

    fetched = storage.doctors.get("doc-1")

    assert (fetched.centro, fetched.telefono, fetched.email, fetched.idiomas) == (
        None,
        None,
        None,
        (),
    )


def test_create_refuses_an_existing_id_and_keeps_the_original(storage) -> None:
    storage.doctors.create(doctor(especialidad="Pediatría"))

    with pytest.raises(ConflictError):
        storage.doctors.create(doctor(especialidad="Dermatología"))

    assert storage.doctors.get("doc-1").especialidad == "Pediatría"


def test_get_unknown_doctor_is_not_found(storage) -> None:
    with pytest.raises(NotFoundError):
        storage.doctors.get("nobody")


def test_update_changes_only_the_given_fields(storage) -> None:
    storage.doctors.create(doctor(centro="Norte", telefono="1"))

    updated = storage.doctors.update("doc-1", {"nombre": "Dr. Nuevo", "centro": None})

    assert updated.nombre == "Dr. Nuevo"
    assert updated.centro is None
    assert updated.telefono == "1"
    assert storage.doctors.get("doc-1") == updated


def test_update_of_the_specialty_moves_the_doctor_between_specialties(storage) -> None:
    storage.doctors.create(doctor(especialidad="Cardiología"))

    storage.doctors.update("doc-1", {"especialidad": "Neurología"})

    assert storage.doctors.list_by_specialty("cardiologia", limit=10).items == []
    (moved,) = storage.doctors.list_by_specialty("NEUROLOGIA", limit=10).items
    assert moved.especialidad == "Neurología"


def test_update_never_creates(storage) -> None:
    with pytest.raises(NotFoundError):
        storage.doctors.update("ghost", {"nombre": "x"})

    with pytest.raises(NotFoundError):
        storage.doctors.get("ghost")


def test_delete_removes_and_a_second_delete_is_not_found(storage) -> None:
    storage.doctors.create(doctor())

    storage.doctors.delete("doc-1")

    with pytest.raises(NotFoundError):
        storage.doctors.get("doc-1")
    with pytest.raises(NotFoundError):
        storage.doctors.delete("doc-1")


@pytest.mark.parametrize(
    "query", ["Cardiología", "cardiologia", "CARDIOLOGÍA", "  cardiología  ", "Cardiologia"]
)
def test_specialty_matching_ignores_case_accents_and_spaces(storage, query) -> None:
    storage.doctors.create(doctor("doc-1", "Cardiología"))
    storage.doctors.create(doctor("doc-2", "cardiologia"))
    storage.doctors.create(doctor("doc-3", "Dermatología"))

    page = storage.doctors.list_by_specialty(query, limit=10)

    assert [d.doctor_id for d in page.items] == ["doc-1", "doc-2"]
    assert page.next_cursor is None
    assert page.items[0].especialidad == "Cardiología"


def test_normalisation_is_lowercase_without_accents() -> None:
    assert normalize_especialidad("  Traumatología   y  Ortopedia ") == "traumatologia y ortopedia"
    assert normalize_especialidad("PEDIATRÍA") == "pediatria"


def test_unknown_specialty_is_an_empty_page(storage) -> None:
    page = storage.doctors.list_by_specialty("astrología", limit=5)

    assert page.items == []
    assert page.next_cursor is None


def test_specialty_pages_cover_every_doctor_once(storage) -> None:
    for n in range(7):
        storage.doctors.create(doctor(f"doc-{n}", "Pediatría"))
    storage.doctors.create(doctor("other", "Urología"))

    seen, cursor, pages = [], None, 0
    while True:
        page = storage.doctors.list_by_specialty("pediatria", limit=3, cursor=cursor)
        seen += [d.doctor_id for d in page.items]
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break

    assert seen == [f"doc-{n}" for n in range(7)]
    assert pages == 3


def test_list_all_pages_cover_every_doctor_once(storage) -> None:
    for n in range(5):
        storage.doctors.create(doctor(f"doc-{n}", "Pediatría" if n % 2 else "Urología"))

    first = storage.doctors.list_all(limit=2)
    second = storage.doctors.list_all(limit=2, cursor=first.next_cursor)
    third = storage.doctors.list_all(limit=2, cursor=second.next_cursor)

    ids = [d.doctor_id for p in (first, second, third) for d in p.items]
    assert sorted(ids) == [f"doc-{n}" for n in range(5)]
    assert len(set(ids)) == 5
    assert third.next_cursor is None


@pytest.mark.parametrize("cursor", ["garbage", "eyJ2IjoxfQ", "x" * 5000, "%%%"])
def test_a_tampered_cursor_is_invalid(storage, cursor) -> None:
    with pytest.raises(InvalidCursorError):
        storage.doctors.list_by_specialty("pediatria", limit=2, cursor=cursor)


def test_a_cursor_from_another_specialty_is_invalid(storage) -> None:
    for n in range(3):
        storage.doctors.create(doctor(f"doc-{n}", "Pediatría"))
    cursor = storage.doctors.list_by_specialty("pediatria", limit=1).next_cursor

    with pytest.raises(InvalidCursorError):
        storage.doctors.list_by_specialty("urologia", limit=1, cursor=cursor)
    with pytest.raises(InvalidCursorError):
        storage.doctors.list_all(limit=1, cursor=cursor)
