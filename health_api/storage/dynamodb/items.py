"""Shared plumbing of the DynamoDB repositories: attribute names, marshalling, calls, paging.

Repositories work with plain Python dicts keyed by the *logical* attribute names of the spec
(``doctor_id``, ``fecha_hora``...). :class:`TableRef` renames key attributes to what the live
table calls them (read from ``DescribeTable``), so a table whose hash key is ``physician_id``
works unchanged. :func:`call` is the only place a botocore exception is caught: a failed
condition becomes :class:`ConditionFailed` (the domain, asked with its old item, says what it
means), everything else a domain error.

botocore's ``standard`` mode retries throttling (``TransactionInProgressException`` included),
5xx and time-outs, but neither ``TransactionConflictException`` nor a transaction cancelled only
by ``TransactionConflict``: :func:`call` retries those a few times, then answers a 503
(:class:`StorageUnavailableError`). A ``ValidationException`` is a bug in the request we built,
which no retry changes: :class:`StorageRequestError`, a logged 500.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

from health_api.domain.errors import (
    InvalidCursorError,
    StorageRequestError,
    StorageUnavailableError,
)
from health_api.storage import cursor as cursors
from health_api.storage.dynamodb.client import error_code, translate

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class ConditionFailed(Exception):
    """A conditional write (or a transaction) did not apply.

    ``item`` is the old item (plain, logical names) DynamoDB returned for a single write with
    ``ReturnValuesOnConditionCheckFailure=ALL_OLD`` (None: there was no item). ``reasons`` is
    a transaction's ``CancellationReasons``, each ``{"code", "item"}`` in request order.

    ``retried`` is True when botocore sent the request more than once (``RetryAttempts > 0``):
    an earlier attempt may have committed and lost its answer, so the condition may have failed
    on this very call's own write. The domain (``retried=``) compares ``item`` with the write.
    """

    def __init__(
        self,
        item: dict[str, Any] | None,
        reasons: list[dict[str, Any]] | None = None,
        *,
        retried: bool = False,
    ):
        super().__init__("condition failed")
        self.item = item
        self.reasons = reasons or []
        self.retried = retried


@dataclass(frozen=True)
class TableRef:
    """One live table: its name and the actual names of its key attributes."""

    name: str
    key_names: Mapping[str, str] = field(default_factory=dict)

    def attr(self, logical: str) -> str:
        """The stored name of attribute ``logical`` (key attributes may be renamed)."""
        return self.key_names.get(logical, logical)

    def names(self, *logicals: str) -> dict[str, str]:
        """``ExpressionAttributeNames`` for ``#logical`` placeholders."""
        return {f"#{name}": self.attr(name) for name in logicals}

    def to_item(self, plain: Mapping[str, Any]) -> dict[str, Any]:
        """A typed DynamoDB item from a plain dict (None values are left out)."""
        return {self.attr(k): _serializer.serialize(v) for k, v in plain.items() if v is not None}

    def from_item(self, item: Mapping[str, Any] | None) -> dict[str, Any] | None:
        """A plain dict with logical names from a typed item (None stays None)."""
        if item is None:
            return None
        reverse = {actual: logical for logical, actual in self.key_names.items()}
        return {reverse.get(k, k): _plain(_deserializer.deserialize(v)) for k, v in item.items()}

    def key(self, **values: str) -> dict[str, Any]:
        """A typed primary key (or ExclusiveStartKey) from logical names."""
        return self.to_item(values)


def values(**plain: Any) -> dict[str, Any]:
    """``ExpressionAttributeValues`` for ``:name`` placeholders."""
    return {f":{k}": _serializer.serialize(v) for k, v in plain.items()}


def _plain(value: Any) -> Any:
    # Numbers come back as Decimal; every number this service stores is a whole number.
    if isinstance(value, Decimal):
        return int(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


SINGLE_TABLE_OPERATIONS = frozenset(
    {"get_item", "put_item", "update_item", "delete_item", "query", "scan"}
)


def set_clause(names: Any) -> str:
    """``SET #a = :a, #b = :b`` for the given logical attribute names."""
    return "SET " + ", ".join(f"#{n} = :{n}" for n in names)


# Our own retries of transaction conflicts (botocore does not retry them): attempts in all,
# and the first pause; each pause doubles, with full jitter, so 3 attempts wait < 0.1 s.
CONFLICT_ATTEMPTS = 3
CONFLICT_BACKOFF_S = 0.025
# Error codes that say the request itself is wrong: the same request can never succeed.
REQUEST_BUG_CODES = frozenset(
    {"ValidationException", "SerializationException", "IdempotentParameterMismatchException"}
)
_pause = time.sleep  # replaced by tests that count the pauses instead of waiting


def call(client: Any, operation: str, table: TableRef | None = None, **request: Any) -> dict:
    """Send one request; a failed condition is :class:`ConditionFailed`, any other botocore
    failure the matching domain error (``from`` the original). Single-table operations get
    ``TableName`` from ``table``. Transaction conflicts are retried (see the module doc)."""
    if table is not None and operation in SINGLE_TABLE_OPERATIONS:
        request.setdefault("TableName", table.name)
    for attempt in range(1, CONFLICT_ATTEMPTS + 1):
        try:
            return _send(client, operation, table, request)
        except _Conflict as conflict:
            if attempt == CONFLICT_ATTEMPTS:
                raise StorageUnavailableError(
                    f"{operation} kept meeting concurrent transactions"
                ) from conflict.__cause__
            _pause(random.uniform(0, CONFLICT_BACKOFF_S * 2 ** (attempt - 1)))  # noqa: S311
    raise AssertionError("unreachable")  # pragma: no cover


class _Conflict(Exception):
    """A write lost to a concurrent transaction: it changed nothing, and may be sent again."""


def _send(client: Any, operation: str, table: TableRef | None, request: dict) -> dict:
    try:
        return getattr(client, operation)(**request)
    except ClientError as exc:
        code = error_code(exc)
        retried = exc.response.get("ResponseMetadata", {}).get("RetryAttempts", 0) > 0
        if code == "ConditionalCheckFailedException":
            old = table.from_item(exc.response.get("Item")) if table else None
            raise ConditionFailed(old, retried=retried) from exc
        if code == "TransactionConflictException":
            raise _Conflict() from exc
        if code == "TransactionCanceledException":
            reasons = exc.response.get("CancellationReasons") or []
            if any(r.get("Code") == "ConditionalCheckFailed" for r in reasons):
                raise ConditionFailed(
                    None,
                    [
                        {
                            "code": r.get("Code"),
                            "item": table.from_item(r.get("Item")) if table else None,
                        }
                        for r in reasons
                    ],
                    retried=retried,
                ) from exc
            if any(r.get("Code") == "TransactionConflict" for r in reasons) and all(
                r.get("Code") in (None, "None", "TransactionConflict") for r in reasons
            ):
                raise _Conflict() from exc
        if code in REQUEST_BUG_CODES:
            raise StorageRequestError(_operation_name(client, operation), code) from exc
        raise _translate(client, exc) from exc
    except ParamValidationError as exc:
        # botocore refused to send it: a request we built wrong, as a ValidationException is.
        raise StorageRequestError(_operation_name(client, operation), "ParamValidation") from exc
    except BotoCoreError as exc:
        raise _translate(client, exc) from exc


def _operation_name(client: Any, operation: str) -> str:
    # "update_item" -> "UpdateItem", the name AWS, CloudTrail and the IAM policy use.
    return getattr(client.meta, "method_to_api_mapping", {}).get(operation, operation)


def _translate(client: Any, exc: Exception) -> Exception:
    return translate(exc, region=client.meta.region_name, endpoint_url=client.meta.endpoint_url)


def collect(
    client: Any,
    operation: str,
    table: TableRef,
    request: dict[str, Any],
    limit: int,
    start_key: dict[str, Any] | None,
    *,
    read_factor: int = 1,
) -> tuple[list[dict[str, Any]], bool]:
    """Run a Query/Scan page after page until ``limit + 1`` matches or the end.

    Returns up to ``limit`` plain items and whether more exist (so ``next_cursor`` is exact:
    None on the last page). ``read_factor`` widens each request's ``Limit`` when a
    FilterExpression may discard most of what is read.
    """
    found: list[dict[str, Any]] = []
    while True:
        needed = limit + 1 - len(found)
        page_request = {
            **request,
            "TableName": table.name,
            "Limit": min(needed * read_factor, 1000),
        }
        if start_key:
            page_request["ExclusiveStartKey"] = start_key
        page = call(client, operation, table, **page_request)
        found.extend(table.from_item(item) for item in page.get("Items", []))
        start_key = page.get("LastEvaluatedKey")
        if len(found) > limit or not start_key:
            return found[:limit], len(found) > limit


def resume(
    cursor: str | None, query: str, fields: tuple[str, ...], check: Callable[[dict], bool]
) -> dict[str, str] | None:
    """The decoded position of ``cursor`` (None: first page); ``check`` guards what the
    fingerprint cannot (a crafted position outside the query's key range)."""
    if cursor is None:
        return None
    position = cursors.decode(cursor, query, fields)
    if not check(position):
        raise InvalidCursorError("the cursor is not valid")
    return position


def next_cursor(query: str, items: list[dict[str, Any]], more: bool, fields: tuple[str, ...]):
    """The cursor after the last returned item, or None on the last page."""
    if not more or not items:
        return None
    return cursors.encode(query, {f: str(items[-1][f]) for f in fields})
