"""Doctors on DynamoDB (table ``doctores``): conditional writes and a GSI Query by specialty.

The item keeps the specialty twice: ``especialidad`` in its normalised form (the hash key of
``especialidad-index``, so "Cardiología" and "cardiologia" meet in one Query) and
``especialidad_nombre``, the display name as it was given.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from health_api.domain.errors import ConflictError, InvalidRequestError, NotFoundError
from health_api.domain.models import DOCTOR_UPDATABLE, Doctor, Page, normalize_especialidad
from health_api.storage import cursor as cursors
from health_api.storage.dynamodb import deletion
from health_api.storage.dynamodb.items import (
    ConditionFailed,
    TableRef,
    call,
    collect,
    next_cursor,
    resume,
    set_clause,
    values,
)
from health_api.storage.tables import ESPECIALIDAD_INDEX

_OPTIONAL = ("centro", "telefono", "email")


def doctor_to_plain(doctor: Doctor) -> dict[str, Any]:
    """The item of ``doctor`` (logical names); absent optional fields are left out."""
    return {
        "doctor_id": doctor.doctor_id,
        "nombre": doctor.nombre,
        "especialidad": _normalised(doctor.especialidad),
        "especialidad_nombre": doctor.especialidad,
        "centro": doctor.centro,
        "telefono": doctor.telefono,
        "email": doctor.email,
        "idiomas": list(doctor.idiomas) or None,
    }


def plain_to_doctor(item: Mapping[str, Any]) -> Doctor:
    """The Doctor stored in ``item`` (an item written by another tool may lack the display name)."""
    return Doctor(
        doctor_id=item["doctor_id"],
        nombre=item.get("nombre", ""),
        especialidad=item.get("especialidad_nombre", item.get("especialidad", "")),
        centro=item.get("centro"),
        telefono=item.get("telefono"),
        email=item.get("email"),
        idiomas=tuple(item.get("idiomas") or ()),
    )


def _normalised(especialidad: str) -> str:
    # An empty string cannot be a GSI key value: DynamoDB would reject the whole write.
    key = normalize_especialidad(especialidad or "")
    if not key:
        raise InvalidRequestError("especialidad must not be empty")
    return key


class DynamoDoctorRepository:
    """``DoctorRepository`` on the ``doctores`` table."""

    def __init__(self, client: Any, table: TableRef) -> None:
        self._client = client
        self._table = table

    def get(self, doctor_id: str, *, consistent: bool = True) -> Doctor:
        """The doctor, or ``NotFoundError`` (``consistent=False``: half the read cost)."""
        response = call(
            self._client,
            "get_item",
            self._table,
            Key=self._table.key(doctor_id=doctor_id),
            ConsistentRead=consistent,
        )
        if "Item" not in response:
            raise NotFoundError(f"doctor {doctor_id} not found")
        return plain_to_doctor(self._table.from_item(response["Item"]))

    def create(self, doctor: Doctor) -> Doctor:
        """Store a new doctor; ``ConflictError`` when the id exists (nothing overwritten)."""
        plain = {k: v for k, v in doctor_to_plain(doctor).items() if v is not None}
        try:
            call(
                self._client,
                "put_item",
                self._table,
                Item=self._table.to_item(plain),
                # Only a new id may be written: a PutItem would otherwise replace the doctor.
                ConditionExpression="attribute_not_exists(#doctor_id)",
                ExpressionAttributeNames=self._table.names("doctor_id"),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ConditionFailed as exc:
            if exc.retried and exc.item == plain:
                # botocore resent the Put after its first attempt committed and the answer
                # was lost: the doctor found is the very one this call wrote.
                return doctor
            raise ConflictError(f"doctor {doctor.doctor_id} already exists") from exc
        return doctor

    def update(self, doctor_id: str, changes: Mapping[str, Any]) -> Doctor:
        """Set the given fields (None removes an optional one) and return the result;
        ``NotFoundError`` when absent (never creates)."""
        unknown = sorted(set(changes) - set(DOCTOR_UPDATABLE))
        if unknown:
            raise InvalidRequestError(f"cannot update {', '.join(unknown)}")
        plain: dict[str, Any] = {}
        removed: list[str] = []
        for name, value in changes.items():
            if name in ("nombre", "especialidad") and value is None:
                raise InvalidRequestError(f"{name} cannot be removed")
            if name == "especialidad":
                plain["especialidad"] = _normalised(value)
                plain["especialidad_nombre"] = value
            elif name == "idiomas":
                if value:
                    plain["idiomas"] = list(value)
                else:
                    removed.append("idiomas")
            elif value is None:
                removed.append(name)
            else:
                plain[name] = value
        if not plain and not removed:
            return self.get(doctor_id)
        expression = []
        if plain:
            expression.append(set_clause(plain))
        if removed:
            expression.append("REMOVE " + ", ".join(f"#{n}" for n in removed))
        request: dict[str, Any] = {
            "TableName": self._table.name,
            "Key": self._table.key(doctor_id=doctor_id),
            "UpdateExpression": " ".join(expression),
            # Update, never upsert: an UpdateItem on a missing key would create a stub doctor.
            "ConditionExpression": "attribute_exists(#doctor_id)",
            "ExpressionAttributeNames": self._table.names("doctor_id", *plain, *removed),
            "ReturnValues": "ALL_NEW",
        }
        if plain:
            request["ExpressionAttributeValues"] = values(**plain)
        try:
            response = call(self._client, "update_item", self._table, **request)
        except ConditionFailed as exc:
            raise NotFoundError(f"doctor {doctor_id} not found") from exc
        return plain_to_doctor(self._table.from_item(response["Attributes"]))

    def delete(self, doctor_id: str, *, mark: str | None = None) -> None:
        """Remove the doctor (given ``mark``, only while it carries it); ``NotFoundError``
        when absent, unless this call's own retried attempt removed it."""
        deletion.delete_doctor(self._client, self._table, doctor_id, mark)

    def mark_deletion(self, doctor_id: str, mark: str) -> str:
        """Mark the doctor as being deleted (see :func:`deletion.mark`); the mark in force."""
        return deletion.mark(self._client, self._table, doctor_id, mark)

    def unmark_deletion(self, doctor_id: str, mark: str) -> None:
        """Clear the deletion mark if it is still ``mark``."""
        deletion.unmark(self._client, self._table, doctor_id, mark)

    def list_by_specialty(
        self, especialidad: str, limit: int, cursor: str | None = None
    ) -> Page[Doctor]:
        """Doctors of a specialty (ignoring case and accents): one Query on the GSI."""
        key = normalize_especialidad(especialidad or "")
        query = cursors.fingerprint("dynamodb", "doctores", ESPECIALIDAD_INDEX, key)
        position = resume(cursor, query, ("doctor_id",), lambda p: bool(key))
        if not key:
            return Page([], None)
        request = {
            "IndexName": ESPECIALIDAD_INDEX,
            "KeyConditionExpression": "#especialidad = :especialidad",
            "ExpressionAttributeNames": self._table.names("especialidad"),
            "ExpressionAttributeValues": values(especialidad=key),
        }
        # The index's sort key is doctor_id, so pages come in doctor_id order and a GSI
        # ExclusiveStartKey (index key + table key) resumes exactly after the last one.
        start = None
        if position:
            start = self._table.key(especialidad=key, doctor_id=position["doctor_id"])
        found, more = collect(self._client, "query", self._table, request, limit, start)
        return Page(
            [plain_to_doctor(i) for i in found],
            next_cursor(query, found, more, ("doctor_id",)),
        )

    def list_all(self, limit: int, cursor: str | None = None) -> Page[Doctor]:
        """Every doctor, a page at a time: the one Scan this service does."""
        query = cursors.fingerprint("dynamodb", "doctores", "scan")
        position = resume(cursor, query, ("doctor_id",), lambda p: True)
        start = self._table.key(doctor_id=position["doctor_id"]) if position else None
        found, more = collect(self._client, "scan", self._table, {}, limit, start)
        return Page(
            [plain_to_doctor(i) for i in found],
            next_cursor(query, found, more, ("doctor_id",)),
        )
