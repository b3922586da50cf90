"""What a stored Idempotency-Key answer leaves out, by shape, wherever it sits in the answer."""

from __future__ import annotations

from health_api.services.idempotency import Answer
from health_api.services.idempotency_answers import dumps, forget, forget_answer

SLOT = {
    "doctor_id": "doc-1",
    "fecha_hora": "2030-01-01T09:00:00Z",
    "estado": "reservado",
    "user_id": "u1",
    "motivo": "privado",
    "reservado_en": "2029-12-01T10:00:00Z",
}
SESSION = {
    "user_id": "u1",
    "data": {"nota": "privado"},
    "created_at": "x",
    "updated_at": "x",
    "expires_at": "x",
    "ttl_seconds": 60,
}


def test_sessions_lose_their_data_and_slots_a_non_null_motivo_wherever_they_are() -> None:
    held = {**SLOT, "estado": "retenido", "user_id": None, "motivo": None, "reservado_en": None}
    document = {"slot": SLOT, "items": [SESSION, held], "motivo": "not a slot's: kept"}

    forgotten, changed = forget(document)

    assert changed
    assert "privado" not in dumps(forgotten)
    assert forgotten["items"][1] == held  # a null motivo says nothing: kept, byte for byte
    assert forgotten["motivo"] == "not a slot's: kept"
    assert document["slot"]["motivo"] == "privado"  # the answer sent is not touched


def test_an_answer_with_nothing_to_forget_is_stored_as_it_came() -> None:
    answer = Answer(201, '{"doctor_id": "d",  "nombre": "x"}\n', "application/json", "/x")
    problem = Answer(409, dumps({"type": "/problems/slot-taken", "alternativas": [SLOT]}))

    assert forget_answer(answer) is answer
    assert forget_answer(problem) is problem  # not JSON by its content type: as it is
    stored = forget_answer(Answer(200, dumps(SLOT) + "\n", "application/json"))
    assert stored.body == dumps({k: v for k, v in SLOT.items() if k != "motivo"}) + "\n"
