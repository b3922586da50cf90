"""Sessions on DynamoDB (table ``user_sessions``): TTL-filtered reads, optimistic merges.

``data`` is stored as compact JSON text (an ``S``), not as a map: floats, empty strings and
nested values then come back exactly as they went in. DynamoDB deletes an expired item only
eventually, so every read treats ``ttl <= now`` as absent. ``version`` counts writes: a merge
reads it and writes back only if it is unchanged, so two concurrent merges never lose a key.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Mapping
from typing import Any

from health_api.domain.errors import (
    InvalidRequestError,
    NotFoundError,
    StorageUnavailableError,
)
from health_api.domain.models import (
    MAX_SESSION_DATA_BYTES,
    Session,
    encode_session_data,
    iso_from_epoch,
)
from health_api.storage.dynamodb.items import ConditionFailed, TableRef, call, set_clause, values

MERGE_ATTEMPTS = 10  # each round of a race lets one writer through


def _encode(data: Mapping[str, Any]) -> str:
    try:
        return encode_session_data(data)
    except (TypeError, ValueError) as exc:
        raise InvalidRequestError("session data must be a JSON object") from exc


def _encode_within_limit(data: Mapping[str, Any]) -> str:
    text = _encode(data)
    if len(text.encode("utf-8")) > MAX_SESSION_DATA_BYTES:
        raise InvalidRequestError(f"session data would exceed {MAX_SESSION_DATA_BYTES} bytes")
    return text


def _to_session(item: Mapping[str, Any]) -> Session:
    return Session(
        user_id=item["user_id"],
        data=json.loads(item.get("data") or "{}"),
        created_at=item["created_at"],
        updated_at=item["updated_at"],
        expires_at=item["expires_at"],
        ttl=int(item["ttl"]),
    )


class DynamoSessionRepository:
    """``SessionRepository`` on the ``user_sessions`` table."""

    def __init__(self, client: Any, table: TableRef) -> None:
        self._client = client
        self._table = table

    def put(self, user_id: str, data: Mapping[str, Any], ttl_seconds: int, now: int) -> Session:
        """Create or replace the session, expiring ``ttl_seconds`` after ``now``."""
        expires = now + ttl_seconds
        fields = {
            "data": _encode(data),
            "created_at": iso_from_epoch(now),
            "updated_at": iso_from_epoch(now),
            "expires_at": iso_from_epoch(expires),
            "ttl": expires,
        }
        response = call(
            self._client,
            "update_item",
            self._table,
            Key=self._table.key(user_id=user_id),
            # An UpdateItem that sets every attribute replaces the session, and unlike a
            # PutItem it can bump version atomically: a merge that read the old session
            # then fails its version check instead of overwriting this one.
            UpdateExpression=set_clause(fields)
            + ", #version = if_not_exists(#version, :zero) + :one",
            ExpressionAttributeNames=self._table.names(*fields, "version"),
            ExpressionAttributeValues=values(**fields, zero=0, one=1),
            ReturnValues="ALL_NEW",
        )
        return _to_session(self._table.from_item(response["Attributes"]))

    def get(self, user_id: str, now: int) -> Session:
        """The live session; ``NotFoundError`` when absent or ``ttl <= now``."""
        return _to_session(self._read_live(user_id, now))

    def _read_live(self, user_id: str, now: int) -> dict[str, Any]:
        response = call(
            self._client,
            "get_item",
            self._table,
            Key=self._table.key(user_id=user_id),
            ConsistentRead=True,
        )
        item = self._table.from_item(response.get("Item"))
        # TTL deletion lags by up to days: an expired item may still be stored.
        if item is None or int(item.get("ttl", 0)) <= now:
            raise NotFoundError("session not found")
        return item

    def merge(
        self, user_id: str, changes: Mapping[str, Any], ttl_seconds: int, now: int
    ) -> Session:
        """Shallow-merge ``changes`` into ``data`` and slide the expiry; retried on a race."""
        for attempt in range(MERGE_ATTEMPTS):
            item = self._read_live(user_id, now)
            data = {**json.loads(item.get("data") or "{}"), **changes}
            expires = now + ttl_seconds
            fields = {
                "data": _encode_within_limit(data),
                "updated_at": iso_from_epoch(now),
                "expires_at": iso_from_epoch(expires),
                "ttl": expires,
            }
            version = item.get("version")
            versions = {"next": int(version or 0) + 1}
            if version is None:
                # An item written by another tool has no version yet: the first merge adds it.
                condition = "attribute_not_exists(#version)"
            else:
                condition = "#version = :version"
                versions["version"] = int(version)
            try:
                response = call(
                    self._client,
                    "update_item",
                    self._table,
                    Key=self._table.key(user_id=user_id),
                    UpdateExpression=set_clause(fields) + ", #version = :next",
                    # Optimistic concurrency: write only over the version that was read, so a
                    # concurrent merge or put is never silently overwritten.
                    ConditionExpression=condition,
                    ExpressionAttributeNames=self._table.names(*fields, "version"),
                    ExpressionAttributeValues=values(**fields, **versions),
                    ReturnValues="ALL_NEW",
                )
            except ConditionFailed:
                # Another writer won; back off a little (jittered) and merge into its result.
                time.sleep(random.uniform(0, 0.01 * (attempt + 1)))  # noqa: S311
                continue
            return _to_session(self._table.from_item(response["Attributes"]))
        raise StorageUnavailableError("the session is being changed concurrently; try again")

    def delete(self, user_id: str) -> None:
        """Remove the session; absent is fine."""
        call(
            self._client,
            "delete_item",
            self._table,
            Key=self._table.key(user_id=user_id),
        )
