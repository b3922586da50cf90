"""Sessions on DynamoDB (table ``user_sessions``): TTL-filtered reads, optimistic merges.

``data`` is stored as compact JSON text (an ``S``), not as a map: floats, empty strings and
nested values then come back exactly as they went in. DynamoDB deletes an expired item only
eventually, so every read treats ``ttl <= now`` as absent. ``version`` counts writes: a merge
reads it and writes back only if it is unchanged, so two concurrent merges never lose a key.
``ttl_seconds`` is the lifetime the session remembers (PUT sets it, a PATCH naming one replaces
it); an item written before it existed has none and slides by the configured default.

A merge's read is eventually consistent (half the read capacity of a strong one): the version
condition rejects a write built on a stale read, and the failed write hands back the current
item (``ReturnValuesOnConditionCheckFailure=ALL_OLD``), so the retry merges into what is really
stored without a second read. Only "absent or expired" is confirmed by a consistent read, since
a session PUT a moment ago may not be visible to an eventual read yet.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Mapping
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
from health_api.domain.requests import SessionPatch
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
        ttl_seconds=int(item["ttl_seconds"]) if item.get("ttl_seconds") is not None else None,
    )


def _live(item: dict[str, Any] | None, now: int) -> bool:
    # TTL deletion lags by up to days: an expired item may still be stored.
    return item is not None and int(item.get("ttl", 0)) > now


def _retrying(
    attempt: Callable[[dict[str, Any] | None], Session], item: dict[str, Any] | None
) -> Session:
    """Run ``attempt`` (one conditional write decided on ``item``) until it lands: when another
    writer won, or the read was stale, the failed write returned the item as it is now
    (``ALL_OLD``), so the next attempt decides on that, after a short jittered back-off."""
    for number in range(MERGE_ATTEMPTS):
        try:
            return attempt(item)
        except ConditionFailed as failed:
            item = failed.item
            time.sleep(random.uniform(0, 0.01 * (number + 1)))  # noqa: S311
    raise StorageUnavailableError("the session is being changed concurrently; try again")


class DynamoSessionRepository:
    """``SessionRepository`` on the ``user_sessions`` table."""

    def __init__(self, client: Any, table: TableRef) -> None:
        self._client = client
        self._table = table

    def put(self, user_id: str, data: Mapping[str, Any], ttl_seconds: int, now: int) -> Session:
        """Create or replace the session, expiring ``ttl_seconds`` after ``now``."""
        return self._write_whole(user_id, _encode(data), ttl_seconds, now)

    def _write_whole(
        self, user_id: str, encoded: Any, ttl_seconds: int, now: int, **condition: Any
    ) -> Session:
        """Write every attribute of the session (``condition``: a ``ConditionExpression`` and
        its names/values, or none). An UpdateItem that sets every attribute replaces the
        session, and unlike a PutItem it can bump version atomically: a merge that read the old
        session then fails its version check instead of overwriting this one."""
        expires = now + ttl_seconds
        fields = {
            "data": encoded,
            "created_at": iso_from_epoch(now),
            "updated_at": iso_from_epoch(now),
            "expires_at": iso_from_epoch(expires),
            "ttl": expires,
            "ttl_seconds": ttl_seconds,
        }
        extra_names = condition.pop("names", ())
        extra_values = condition.pop("values", {})
        response = call(
            self._client,
            "update_item",
            self._table,
            Key=self._table.key(user_id=user_id),
            UpdateExpression=set_clause(fields)
            + ", #version = if_not_exists(#version, :zero) + :one",
            ExpressionAttributeNames=self._table.names(*fields, "version", *extra_names),
            ExpressionAttributeValues=values(**fields, zero=0, one=1, **extra_values),
            ReturnValues="ALL_NEW",
            **condition,
        )
        return _to_session(self._table.from_item(response["Attributes"]))

    def get(self, user_id: str, now: int) -> Session:
        """The live session; ``NotFoundError`` when absent or ``ttl <= now``."""
        item = self._read(user_id, consistent=True)
        if not _live(item, now):
            raise NotFoundError("session not found")
        return _to_session(item)

    def _read(self, user_id: str, *, consistent: bool) -> dict[str, Any] | None:
        response = call(
            self._client,
            "get_item",
            self._table,
            Key=self._table.key(user_id=user_id),
            ConsistentRead=consistent,
        )
        return self._table.from_item(response.get("Item"))

    def _read_for_merge(self, user_id: str, now: int) -> dict[str, Any]:
        # Eventually consistent: the merge's version condition catches a stale item. A miss may
        # be a PUT not yet visible to this read, so only a consistent read may answer 404.
        item = self._read(user_id, consistent=False)
        if not _live(item, now):
            item = self._read(user_id, consistent=True)
        if not _live(item, now):
            raise NotFoundError("session not found")
        return item

    def merge(self, user_id: str, patch: SessionPatch, now: int) -> Session:
        """Shallow-merge ``patch.changes`` into ``data`` and slide the expiry by ``ttl_seconds``
        (then remembered), else by the session's own lifetime, else ``default_ttl``; retried on
        a race or a stale read."""

        def attempt(item: dict[str, Any] | None) -> Session:
            if not _live(item, now):
                raise NotFoundError("session not found")
            return self._write_merge(item, patch, now)

        return _retrying(attempt, self._read_for_merge(user_id, now))

    def upsert(self, user_id: str, patch: SessionPatch, now: int) -> Session:
        """Merge into the live session, else create it (see ``SessionRepository.upsert``):
        each attempt is one conditional write under "the item is as I read it" (the merge's
        version, or "absent or expired" for a create); a lost race hands back the current item
        (``ALL_OLD``) and the next attempt decides on that."""
        # Eventually consistent: a stale read only costs an attempt, never a lost key.

        def attempt(item: dict[str, Any] | None) -> Session:
            if _live(item, now):
                return self._write_merge(item, patch, now)
            ttl_seconds = patch.ttl_seconds
            lifetime = patch.default_ttl if ttl_seconds is None else ttl_seconds
            return self._write_create(user_id, patch.changes, lifetime, now)

        return _retrying(attempt, self._read(user_id, consistent=False))

    def _write_create(
        self, user_id: str, data: Mapping[str, Any], ttl_seconds: int, now: int
    ) -> Session:
        # Create only over nothing live, as it was read: a session another writer created
        # meanwhile fails this, and the retry merges into it instead of replacing it. The
        # version still bumps, so a merge that read the expired item fails its check.
        return self._write_whole(
            user_id,
            _encode_within_limit(data),
            ttl_seconds,
            now,
            ConditionExpression=(
                "attribute_not_exists(#user_id) OR attribute_not_exists(#ttl) OR #ttl <= :now"
            ),
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
            names=("user_id",),
            values={"now": now},
        )

    def _write_merge(self, item: dict[str, Any], patch: SessionPatch, now: int) -> Session:
        changes, ttl_seconds, default_ttl = patch.changes, patch.ttl_seconds, patch.default_ttl
        lifetime = next(
            (t for t in (ttl_seconds, item.get("ttl_seconds"), default_ttl) if t is not None), None
        )
        if lifetime is None:
            raise ValueError("the session remembers no lifetime and no default_ttl was given")
        expires = now + int(lifetime)
        fields = {
            "data": _encode_within_limit({**json.loads(item.get("data") or "{}"), **changes}),
            "updated_at": iso_from_epoch(now),
            "expires_at": iso_from_epoch(expires),
            "ttl": expires,
        }
        if ttl_seconds is not None:
            fields["ttl_seconds"] = ttl_seconds
        version = item.get("version")
        versions = {"next": int(version or 0) + 1}
        names = [*fields, "version"]
        if version is None:
            # An item written by another tool has no version yet: the first merge adds it (and
            # the item must still exist, or this update would create a bare one).
            condition = "attribute_exists(#user_id) AND attribute_not_exists(#version)"
            names.append("user_id")
        else:
            condition = "#version = :version"
            versions["version"] = int(version)
        response = call(
            self._client,
            "update_item",
            self._table,
            Key=self._table.key(user_id=item["user_id"]),
            UpdateExpression=set_clause(fields) + ", #version = :next",
            # Optimistic concurrency: write only over the version that was read, so a concurrent
            # merge or put (or a stale read) never silently overwrites a newer session.
            ConditionExpression=condition,
            ExpressionAttributeNames=self._table.names(*names),
            ExpressionAttributeValues=values(**fields, **versions),
            ReturnValues="ALL_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
        return _to_session(self._table.from_item(response["Attributes"]))

    def delete(self, user_id: str) -> None:
        """Remove the session; absent is fine."""
        call(
            self._client,
            "delete_item",
            self._table,
            Key=self._table.key(user_id=user_id),
        )
