"""SessionRepository contract: expiry to the second, sliding merge, both backends."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from freezegun import freeze_time

from health_api import clock
from health_api.domain.errors import InvalidRequestError, NotFoundError
from health_api.domain.models import MAX_SESSION_DATA_BYTES
from health_api.domain.requests import SessionPatch
from health_api.services import sessions
from tests.callers import AGENT_CALLER
from tests.races import race

START = "2030-12-01T10:00:00Z"


@pytest.fixture
def frozen():
    with freeze_time(START) as frozen_time:
        yield frozen_time


def test_put_then_get_returns_the_data_and_times(storage, frozen) -> None:
    data = {"paso": "elegir_medico", "intentos": 2, "peso": 71.5, "vacio": "", "lista": [1, "a"]}

    stored = storage.sessions.put("user-a", data, 1800, clock.epoch_seconds())

    fetched = storage.sessions.get("user-a", clock.epoch_seconds())
    assert fetched == stored
    assert fetched.data == data
    assert fetched.created_at == fetched.updated_at == START
    assert fetched.expires_at == "2030-12-01T10:30:00Z"
    assert fetched.ttl == clock.epoch_seconds() + 1800


def test_a_session_expires_at_the_exact_second(storage, frozen) -> None:
    storage.sessions.put("user-a", {"x": 1}, 60, clock.epoch_seconds())

    frozen.tick(timedelta(seconds=59))
    assert storage.sessions.get("user-a", clock.epoch_seconds()).data == {"x": 1}

    frozen.tick(timedelta(seconds=1))
    with pytest.raises(NotFoundError):
        storage.sessions.get("user-a", clock.epoch_seconds())


def test_put_replaces_the_whole_session(storage, frozen) -> None:
    storage.sessions.put("user-a", {"a": 1, "b": 2}, 60, clock.epoch_seconds())
    frozen.tick(timedelta(seconds=10))

    replaced = storage.sessions.put("user-a", {"c": 3}, 600, clock.epoch_seconds())

    assert storage.sessions.get("user-a", clock.epoch_seconds()) == replaced
    assert replaced.data == {"c": 3}
    assert replaced.expires_at == "2030-12-01T10:10:10Z"


def test_put_revives_an_expired_session(storage, frozen) -> None:
    storage.sessions.put("user-a", {"old": True}, 5, clock.epoch_seconds())
    frozen.tick(timedelta(seconds=30))

    storage.sessions.put("user-a", {"new": True}, 5, clock.epoch_seconds())

    assert storage.sessions.get("user-a", clock.epoch_seconds()).data == {"new": True}


def test_merge_is_shallow_and_slides_the_expiry(storage, frozen) -> None:
    storage.sessions.put("user-a", {"a": 1, "nested": {"x": 1, "y": 2}}, 60, clock.epoch_seconds())
    frozen.tick(timedelta(seconds=50))

    merged = storage.sessions.merge(
        "user-a", SessionPatch({"b": 2, "nested": {"z": 3}}, 60), clock.epoch_seconds()
    )

    assert merged.data == {"a": 1, "b": 2, "nested": {"z": 3}}
    assert merged.created_at == START
    assert merged.updated_at == "2030-12-01T10:00:50Z"
    assert merged.expires_at == "2030-12-01T10:01:50Z"
    frozen.tick(timedelta(seconds=59))
    assert storage.sessions.get("user-a", clock.epoch_seconds()).data == merged.data


def test_merge_of_an_expired_session_is_not_found(storage, frozen) -> None:
    storage.sessions.put("user-a", {"a": 1}, 10, clock.epoch_seconds())
    frozen.tick(timedelta(seconds=10))

    with pytest.raises(NotFoundError):
        storage.sessions.merge("user-a", SessionPatch({"b": 2}, 60), clock.epoch_seconds())

    with pytest.raises(NotFoundError):
        storage.sessions.get("user-a", clock.epoch_seconds())


def test_merge_of_an_absent_session_is_not_found_and_creates_nothing(storage, frozen) -> None:
    with pytest.raises(NotFoundError):
        storage.sessions.merge("nobody", SessionPatch({"b": 2}, 60), clock.epoch_seconds())

    with pytest.raises(NotFoundError):
        storage.sessions.get("nobody", clock.epoch_seconds())


def test_a_merge_past_the_size_limit_is_refused_and_changes_nothing(storage, frozen) -> None:
    half = "x" * (MAX_SESSION_DATA_BYTES // 2)
    storage.sessions.put("user-a", {"a": half}, 60, clock.epoch_seconds())

    with pytest.raises(InvalidRequestError):
        storage.sessions.merge("user-a", SessionPatch({"b": half}, 60), clock.epoch_seconds())

    assert storage.sessions.get("user-a", clock.epoch_seconds()).data == {"a": half}


def test_delete_is_idempotent(storage, frozen) -> None:
    storage.sessions.put("user-a", {"a": 1}, 60, clock.epoch_seconds())

    storage.sessions.delete("user-a")
    storage.sessions.delete("user-a")

    with pytest.raises(NotFoundError):
        storage.sessions.get("user-a", clock.epoch_seconds())


def test_unicode_data_round_trips(storage, frozen) -> None:
    data = {"mensaje": "¿Tiene cita con la Dra. Núñez? 👩‍⚕️", "ñ": ["á", "ü"]}

    storage.sessions.put("usuario-ñ", data, 60, clock.epoch_seconds())

    assert storage.sessions.get("usuario-ñ", clock.epoch_seconds()).data == data


def test_concurrent_merges_never_lose_a_key(storage, backend) -> None:
    if backend == "moto":
        pytest.skip(
            "in-process moto is not atomic under threads (read-check-write without a lock); "
            "DynamoDB Local runs this race for real"
        )
    now = clock.epoch_seconds()
    storage.sessions.put("user-a", {}, 600, now)
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def merge(n: int) -> None:
        try:
            barrier.wait()
            storage.sessions.merge("user-a", SessionPatch({f"k{n}": n}, 600), now)
        except Exception as exc:  # noqa: BLE001 - reported below; a thread must not die silently
            errors.append(exc)
        finally:
            storage.release()

    threads = [threading.Thread(target=merge, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert storage.sessions.get("user-a", now).data == {f"k{n}": n for n in range(8)}


def test_a_session_remembers_its_lifetime_and_merge_slides_by_it(storage, frozen) -> None:
    stored = storage.sessions.put("user-a", {"a": 1}, 60, clock.epoch_seconds())
    frozen.tick(timedelta(seconds=30))

    merged = storage.sessions.merge(
        "user-a", SessionPatch({"b": 2}, default_ttl=1800), clock.epoch_seconds()
    )

    assert stored.ttl_seconds == 60
    assert merged.ttl_seconds == 60
    assert merged.expires_at == "2030-12-01T10:01:30Z"
    frozen.tick(timedelta(seconds=60))
    with pytest.raises(NotFoundError):
        storage.sessions.get("user-a", clock.epoch_seconds())


def test_a_lifetime_given_to_merge_replaces_the_remembered_one(storage, frozen) -> None:
    storage.sessions.put("user-a", {"a": 1}, 60, clock.epoch_seconds())
    storage.sessions.merge(
        "user-a", SessionPatch({"b": 2}, 600, default_ttl=1800), clock.epoch_seconds()
    )
    frozen.tick(timedelta(seconds=100))

    merged = storage.sessions.merge(
        "user-a", SessionPatch({"c": 3}, default_ttl=1800), clock.epoch_seconds()
    )

    assert merged.ttl_seconds == 600
    assert merged.expires_at == "2030-12-01T10:11:40Z"
    assert storage.sessions.get("user-a", clock.epoch_seconds()) == merged


def test_a_put_replaces_the_remembered_lifetime(storage, frozen) -> None:
    storage.sessions.put("user-a", {"a": 1}, 600, clock.epoch_seconds())
    storage.sessions.put("user-a", {"a": 2}, 60, clock.epoch_seconds())

    merged = storage.sessions.merge(
        "user-a", SessionPatch({"b": 2}, default_ttl=1800), clock.epoch_seconds()
    )

    assert merged.ttl_seconds == 60
    assert merged.expires_at == "2030-12-01T10:01:00Z"


# --- save_session: create, or merge into the live session, in one atomic write --------------


def test_saving_without_a_session_creates_it_with_the_default_lifetime(storage, frozen) -> None:
    saved = sessions.save_session(
        storage, "user-a", {"paso": "inicio"}, None, 1800, caller=AGENT_CALLER
    )

    now = clock.epoch_seconds()
    assert (saved.data, saved.ttl, saved.ttl_seconds) == ({"paso": "inicio"}, now + 1800, 1800)
    assert storage.sessions.get("user-a", now) == saved


def test_saving_into_a_live_session_merges_and_slides_by_its_lifetime(storage, frozen) -> None:
    storage.sessions.put("user-a", {"paso": "inicio", "idioma": "es"}, 600, clock.epoch_seconds())
    frozen.tick(timedelta(seconds=100))

    saved = sessions.save_session(
        storage, "user-a", {"paso": "confirmar"}, None, 1800, caller=AGENT_CALLER
    )

    assert saved.data == {"paso": "confirmar", "idioma": "es"}
    assert (saved.ttl, saved.ttl_seconds) == (clock.epoch_seconds() + 600, 600)
    assert saved.created_at == START


def test_saving_over_an_expired_session_starts_a_new_one(storage, frozen) -> None:
    storage.sessions.put("user-a", {"viejo": 1}, 60, clock.epoch_seconds())
    frozen.tick(timedelta(seconds=60))

    saved = sessions.save_session(storage, "user-a", {"nuevo": 2}, 300, 1800, caller=AGENT_CALLER)

    assert saved.data == {"nuevo": 2}
    assert (saved.ttl, saved.ttl_seconds) == (clock.epoch_seconds() + 300, 300)
    assert saved.created_at != START


def test_saving_past_the_size_limit_is_refused_and_changes_nothing(storage, frozen) -> None:
    storage.sessions.put(
        "user-a", {"a": "x" * (MAX_SESSION_DATA_BYTES - 200)}, 60, clock.epoch_seconds()
    )

    with pytest.raises(InvalidRequestError):
        sessions.save_session(storage, "user-a", {"b": "y" * 300}, None, 1800, caller=AGENT_CALLER)

    assert set(storage.sessions.get("user-a", clock.epoch_seconds()).data) == {"a"}


def test_concurrent_first_saves_never_lose_a_key(storage, backend) -> None:
    if backend == "moto":
        pytest.skip(
            "in-process moto is not atomic under threads (read-check-write without a lock); "
            "DynamoDB Local runs this race for real"
        )
    count = 8

    def save(n: int) -> None:
        try:
            sessions.save_session(storage, "user-a", {f"k{n}": n}, None, 1800, caller=AGENT_CALLER)
        finally:
            storage.release()

    results, errors = race(count, save)

    assert errors == []
    assert len(results) == count
    data = storage.sessions.get("user-a", clock.epoch_seconds()).data
    assert data == {f"k{n}": n for n in range(count)}
