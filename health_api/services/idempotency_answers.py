"""Forgotten means forgotten: stored Idempotency-Key answers keep no session ``data`` and no
booking ``motivo`` (API.md v1.2); a replay fills them from the current state.

Before an answer is stored, every session in it loses ``data`` and every slot with booking
fields loses a ``motivo`` that is not null. A replay puts them back from the store as they are
now: a session's ``data`` while that user's session lives; a slot's ``motivo`` while the same
booking holds the slot (same user, same ``reservado_en``). A session deleted or expired, a
booking cancelled or moved away: the field stays out of the replay, the one exception to "byte
for byte". Everything else in the answer is replayed as it was stored.

Sessions and slots are recognised by their shape (``schemas/shapes.py`` makes every answer's
sessions and slots, on REST and MCP alike): whatever route or tool answered, a session's data
or a booking's reason never reaches the idempotency table. A record stored before this rule is
forgotten the same way when replayed.
"""

from __future__ import annotations

import json
from typing import Any

from health_api import clock
from health_api.domain.errors import NotFoundError
from health_api.domain.models import RESERVADO, SlotKey
from health_api.services.idempotency import Answer
from health_api.services.times import to_utc_string
from health_api.storage.base import Storage

# A session answer (``session_dict``) and a slot answer with booking fields (``slot_dict``).
SESSION_KEYS = frozenset({"user_id", "created_at", "updated_at", "expires_at", "ttl_seconds"})
SLOT_KEYS = frozenset({"doctor_id", "fecha_hora", "estado", "user_id", "reservado_en"})
AFTER = "user_id"  # both fields follow it in their shapes: put back where they were


def dumps(document: Any) -> str:
    """JSON as the app writes it (REST bodies and MCP texts): compact, not ASCII-escaped."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def forget(document: Any) -> tuple[Any, bool]:
    """``document`` without session ``data`` nor non-null slot ``motivo`` (a copy), and whether
    anything was left out."""
    if isinstance(document, list):
        items = [forget(item) for item in document]
        return [item for item, _ in items], any(changed for _, changed in items)
    if not isinstance(document, dict):
        return document, False
    forgotten: dict[str, Any] = {}
    changed = False
    for name, value in document.items():
        if _is_session(document) and name == "data":
            changed = True
            continue
        if _is_slot(document) and name == "motivo" and value is not None:
            changed = True
            continue
        forgotten[name], inner = forget(value)
        changed = changed or inner
    return forgotten, changed


def recall(storage: Storage, document: Any) -> tuple[Any, bool]:
    """``document`` (forgotten) with each session's ``data`` and each booking's ``motivo``
    read from the store now, where they still exist; and whether anything was put back."""
    if isinstance(document, list):
        items = [recall(storage, item) for item in document]
        return [item for item, _ in items], any(changed for _, changed in items)
    if not isinstance(document, dict):
        return document, False
    recalled: dict[str, Any] = {}
    changed = False
    for name, value in document.items():
        recalled[name], inner = recall(storage, value)
        changed = changed or inner
    field, current = _current(storage, document)
    if field is None:
        return recalled, changed
    return _insert_after(recalled, AFTER, field, current), True


def forget_answer(answer: Answer) -> Answer:
    """The answer as it may be stored (a JSON body forgotten; any other body as it is)."""
    document = _document(answer)
    if document is None:
        return answer
    forgotten, changed = forget(document)
    return _with_body(answer, forgotten) if changed else answer


def recall_answer(storage: Storage, answer: Answer) -> Answer:
    """The stored answer as it is replayed now (see the module doc)."""
    document = _document(answer)
    if document is None:
        return answer
    forgotten, forgot = forget(document)  # a record stored before this rule
    recalled, changed = recall(storage, forgotten)
    return _with_body(answer, recalled) if forgot or changed else answer


def _is_session(document: dict[str, Any]) -> bool:
    return document.keys() >= SESSION_KEYS


def _is_slot(document: dict[str, Any]) -> bool:
    return document.keys() >= SLOT_KEYS


def _current(storage: Storage, document: dict[str, Any]) -> tuple[str | None, Any]:
    """Which forgotten field ``document`` lacks and its value now; (None, None) when it lacks
    none, or the session or booking it belonged to is gone."""
    if _is_session(document) and "data" not in document:
        try:
            session = storage.sessions.get(document["user_id"], clock.epoch_seconds())
        except NotFoundError:
            return None, None
        return "data", session.data
    if _is_slot(document) and "motivo" not in document:
        key = SlotKey(document["doctor_id"], document["fecha_hora"])
        try:
            slot = storage.slots.get(key, now=to_utc_string(clock.now_utc()))
        except NotFoundError:
            return None, None
        same_booking = (slot.estado, slot.user_id, slot.reservado_en) == (
            RESERVADO,
            document["user_id"],
            document["reservado_en"],
        )
        return ("motivo", slot.motivo) if same_booking else (None, None)
    return None, None


def _insert_after(document: dict[str, Any], anchor: str, name: str, value: Any) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, item in document.items():
        result[key] = item
        if key == anchor:
            result[name] = value
    result.setdefault(name, value)
    return result


def _document(answer: Answer) -> Any:
    if not (answer.content_type or "").startswith("application/json") or not answer.body:
        return None
    try:
        return json.loads(answer.body)
    except ValueError:
        return None


def _with_body(answer: Answer, document: Any) -> Answer:
    # Flask ends its JSON bodies with a newline: kept, so the rest stays byte for byte.
    newline = "\n" if answer.body.endswith("\n") else ""
    return Answer(answer.status, dumps(document) + newline, answer.content_type, answer.location)
