"""The declarative table specs: the single source of truth for names, keys, GSIs, TTL and tags.

Everything that creates, validates, documents or grants access to a table reads it from here:
``setup_tables.py``, ``/readyz``, ``/admin/tables``, the IAM policy printer, and both storage
backends (SQLite mirrors the same keys and indexes).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

APPLICATION_TAG = "HealthAssistantAPI"
BILLING_MODE = "PAY_PER_REQUEST"

DOCTORES = "doctores"
HORARIOS_DOCTORES = "horarios_doctores"
USER_SESSIONS = "user_sessions"
IDEMPOTENCY_KEYS = "idempotency_keys"
LOGICAL_TABLES = (DOCTORES, HORARIOS_DOCTORES, USER_SESSIONS, IDEMPOTENCY_KEYS)

ESPECIALIDAD_INDEX = "especialidad-index"
USER_ID_INDEX = "user_id-index"


@dataclass(frozen=True)
class KeyAttribute:
    """One key attribute: its name and DynamoDB scalar type (``S``, ``N`` or ``B``)."""

    name: str
    type: str = "S"


@dataclass(frozen=True)
class IndexSpec:
    """A global secondary index (projection ALL: the service reads whole items from it)."""

    name: str
    hash_key: KeyAttribute
    range_key: KeyAttribute | None = None
    projection: str = "ALL"

    def key_schema(self) -> list[dict[str, str]]:
        """The index's KeySchema, as CreateTable expects it."""
        return _key_schema(self.hash_key, self.range_key)


@dataclass(frozen=True)
class TableSpec:
    """One table as the service needs it; ``logical`` is the name used in code and docs."""

    logical: str
    name: str
    hash_key: KeyAttribute
    range_key: KeyAttribute | None = None
    indexes: tuple[IndexSpec, ...] = ()
    ttl_attribute: str | None = None
    billing_mode: str = BILLING_MODE
    tags: Mapping[str, str] = field(default_factory=dict)

    def index(self, name: str) -> IndexSpec:
        """The GSI called ``name``; KeyError when the spec has none."""
        for index in self.indexes:
            if index.name == name:
                return index
        raise KeyError(name)

    def key_schema(self) -> list[dict[str, str]]:
        """The table's KeySchema, as CreateTable expects it."""
        return _key_schema(self.hash_key, self.range_key)

    def attribute_definitions(self) -> list[dict[str, str]]:
        """Every key attribute of the table and its indexes, each once."""
        seen: dict[str, str] = {}
        for attribute in (self.hash_key, self.range_key, *_index_keys(self.indexes)):
            if attribute is not None:
                seen.setdefault(attribute.name, attribute.type)
        return [{"AttributeName": n, "AttributeType": t} for n, t in seen.items()]

    def create_table_request(self) -> dict[str, Any]:
        """The complete CreateTable request for this spec (TTL is a separate call)."""
        request: dict[str, Any] = {
            "TableName": self.name,
            "KeySchema": self.key_schema(),
            "AttributeDefinitions": self.attribute_definitions(),
            "BillingMode": self.billing_mode,
            "Tags": [{"Key": k, "Value": v} for k, v in sorted(self.tags.items())],
        }
        if self.indexes:
            request["GlobalSecondaryIndexes"] = [
                {
                    "IndexName": index.name,
                    "KeySchema": index.key_schema(),
                    "Projection": {"ProjectionType": index.projection},
                }
                for index in self.indexes
            ]
        return request


def _key_schema(hash_key: KeyAttribute, range_key: KeyAttribute | None) -> list[dict[str, str]]:
    schema = [{"AttributeName": hash_key.name, "KeyType": "HASH"}]
    if range_key is not None:
        schema.append({"AttributeName": range_key.name, "KeyType": "RANGE"})
    return schema


def _index_keys(indexes: tuple[IndexSpec, ...]) -> list[KeyAttribute | None]:
    return [key for index in indexes for key in (index.hash_key, index.range_key)]


def table_name(logical: str, prefix: str = "", override: str | None = None) -> str:
    """The physical name: a per-table override wins, else ``prefix + logical``."""
    return override or f"{prefix}{logical}"


def table_specs(settings: Any) -> dict[str, TableSpec]:
    """The table specs for ``settings`` (a ``Settings``), keyed by logical name.

    Names honour ``table_prefix`` and the per-table overrides; tags carry the environment.
    """
    tags = {"Application": APPLICATION_TAG, "Environment": settings.environment}

    def name(logical: str) -> str:
        override = getattr(settings, f"table_{logical}", None)
        return table_name(logical, settings.table_prefix, override)

    fecha_hora = KeyAttribute("fecha_hora")
    return {
        DOCTORES: TableSpec(
            logical=DOCTORES,
            name=name(DOCTORES),
            hash_key=KeyAttribute("doctor_id"),
            # The specialty is stored normalised (lowercase, no accents) so that a Query on
            # this index matches "Cardiología" and "cardiologia" alike; doctor_id as the sort
            # key gives pages a stable order and a cheap resume point.
            indexes=(
                IndexSpec(
                    ESPECIALIDAD_INDEX, KeyAttribute("especialidad"), KeyAttribute("doctor_id")
                ),
            ),
            tags=tags,
        ),
        HORARIOS_DOCTORES: TableSpec(
            logical=HORARIOS_DOCTORES,
            name=name(HORARIOS_DOCTORES),
            hash_key=KeyAttribute("doctor_id"),
            # UTC ISO strings with a Z suffix: string order is time order, so a slot range
            # is one sort-key range Query.
            range_key=fecha_hora,
            # Sparse: only booked slots carry user_id, so the index holds appointments only.
            indexes=(IndexSpec(USER_ID_INDEX, KeyAttribute("user_id"), fecha_hora),),
            tags=tags,
        ),
        USER_SESSIONS: TableSpec(
            logical=USER_SESSIONS,
            name=name(USER_SESSIONS),
            hash_key=KeyAttribute("user_id"),
            ttl_attribute="ttl",
            tags=tags,
        ),
        IDEMPOTENCY_KEYS: TableSpec(
            logical=IDEMPOTENCY_KEYS,
            name=name(IDEMPOTENCY_KEYS),
            # A hash of (API key id, Idempotency-Key): one record per key and client, read and
            # claimed by one GetItem / conditional PutItem.
            hash_key=KeyAttribute("clave"),
            ttl_attribute="ttl",
            tags=tags,
        ),
    }
