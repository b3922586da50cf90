"""Idempotency-Key records on DynamoDB (table ``idempotency_keys``, TTL on ``ttl``).

One item per (API key, Idempotency-Key), its hash in ``clave``. A claim is one conditional
PutItem; while its request runs, the lease (``claimed_at``) is renewed by a conditional
UpdateItem; the answer replaces it with one conditional UpdateItem; a release is one conditional
DeleteItem. Each condition names the claim's random ``token``, so a request whose claim was
taken over (its worker looked dead) can neither overwrite nor delete its successor's record.
TTL deletion lags, so every read treats ``ttl <= now`` as absent, and so does the claim.
"""

from __future__ import annotations

from typing import Any

from health_api.storage.base import IdempotencyRecord
from health_api.storage.dynamodb.items import ConditionFailed, TableRef, call, set_clause, values

_ANSWER = ("completed", "status", "body", "content_type", "location", "ttl")


def _record(item: dict[str, Any]) -> IdempotencyRecord:
    return IdempotencyRecord(
        clave=item["clave"],
        huella=item["huella"],
        token=item["token"],
        claimed_at=int(item["claimed_at"]),
        ttl=int(item["ttl"]),
        completed=bool(item.get("completed")),
        status=int(item["status"]) if item.get("status") is not None else None,
        body=item.get("body"),
        content_type=item.get("content_type"),
        location=item.get("location"),
        seed=item.get("seed") or "",
    )


class DynamoIdempotencyRepository:
    """``IdempotencyRepository`` on the ``idempotency_keys`` table."""

    def __init__(self, client: Any, table: TableRef) -> None:
        self._client = client
        self._table = table

    def get(self, clave: str, now: int) -> IdempotencyRecord | None:
        """The live record, read strongly consistent (a claim a moment old must be seen)."""
        response = call(
            self._client,
            "get_item",
            self._table,
            Key=self._table.key(clave=clave),
            ConsistentRead=True,
        )
        item = self._table.from_item(response.get("Item"))
        if item is None or int(item.get("ttl", 0)) <= now:
            return None
        return _record(item)

    def claim(self, record: IdempotencyRecord, now: int, stale_before: int) -> bool:
        """One conditional PutItem of the claim (see the protocol)."""
        item = {
            "clave": record.clave,
            "huella": record.huella,
            "token": record.token,
            "claimed_at": record.claimed_at,
            "ttl": record.ttl,
            "completed": False,
            "seed": record.seed or None,  # None: left out (a record from before seeds)
        }
        try:
            call(
                self._client,
                "put_item",
                self._table,
                Item=self._table.to_item(item),
                # Free: no item, or one past its TTL (not yet swept), or a claim that was never
                # completed and is older than any live request can be (its worker died).
                ConditionExpression="attribute_not_exists(#clave) OR #ttl <= :now"
                " OR (#completed = :false AND #claimed_at <= :stale_before)",
                ExpressionAttributeNames=self._table.names(
                    "clave", "ttl", "completed", "claimed_at"
                ),
                ExpressionAttributeValues=values(now=now, false=False, stale_before=stale_before),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ConditionFailed as failed:
            # A retried PutItem may fail on its own first attempt's write: that is our claim.
            return bool(failed.item and failed.item.get("token") == record.token)
        return True

    def renew(self, clave: str, token: str, now: int) -> bool:
        """One conditional UpdateItem of ``claimed_at``: our own claim's lease, while live."""
        try:
            call(
                self._client,
                "update_item",
                self._table,
                Key=self._table.key(clave=clave),
                UpdateExpression="SET #claimed_at = :now",
                ConditionExpression="#token = :token AND #completed = :false AND #ttl > :now",
                ExpressionAttributeNames=self._table.names(
                    "claimed_at", "token", "completed", "ttl"
                ),
                ExpressionAttributeValues=values(now=now, token=token, false=False),
            )
        except ConditionFailed:
            return False
        return True

    def complete(self, completed: IdempotencyRecord) -> bool:
        """One conditional UpdateItem: the claim becomes the stored answer."""
        fields = {
            "completed": True,
            "status": completed.status,
            "body": completed.body,
            "content_type": completed.content_type or "",
            "location": completed.location or "",
            "ttl": completed.ttl,
        }
        try:
            call(
                self._client,
                "update_item",
                self._table,
                Key=self._table.key(clave=completed.clave),
                UpdateExpression=set_clause(_ANSWER),
                # Only our own claim: a takeover gave the key to another request.
                ConditionExpression="#token = :token",
                ExpressionAttributeNames=self._table.names(*_ANSWER, "token"),
                ExpressionAttributeValues=values(**fields, token=completed.token),
            )
        except ConditionFailed:
            return False
        return True

    def release(self, clave: str, token: str) -> None:
        """One conditional DeleteItem of our own claim; gone or taken over is fine."""
        try:
            call(
                self._client,
                "delete_item",
                self._table,
                Key=self._table.key(clave=clave),
                # Never delete a record another request claimed after ours was taken over.
                ConditionExpression="#token = :token",
                ExpressionAttributeNames=self._table.names("token"),
                ExpressionAttributeValues=values(token=token),
            )
        except ConditionFailed:
            return
