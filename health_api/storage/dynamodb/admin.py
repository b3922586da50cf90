"""Table administration on DynamoDB: inspect, validate, create and delete the spec'd tables.

``setup_tables.py`` is a thin CLI over these functions; ``/admin/tables`` calls
:func:`validate_tables` (the full report, tags included), while start-up and ``/readyz`` use
:func:`describe_report` (DescribeTable only: ``ListTagsOfResource`` is limited to 10 calls/s per
account). Every botocore failure leaves here as a domain error (``from exc``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import botocore.session
from botocore.exceptions import BotoCoreError, ClientError, UnknownRegionError, WaiterError

from health_api.storage.dynamodb.client import error_code, translate
from health_api.storage.table_check import TableReport, check_table, missing_report
from health_api.storage.tables import TableSpec

# DynamoDB Local answers ListTagsOfResource and TagResource with this (HTTP 400): the endpoint
# has no tagging at all, which is not a difference of the table.
TAGGING_UNSUPPORTED_CODES = frozenset({"UnknownOperationException"})
TAGS_NOT_CHECKABLE = "tags not checkable on this endpoint (it does not implement tagging)"


@dataclass
class TableResult:
    """What one create/delete run did to one table."""

    logical: str
    name: str
    action: str  # created | skipped | in_use | deleted | absent | refused
    detail: str = ""
    report: TableReport | None = None
    failed: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of ``setup_tables.py --json``."""
        data = {k: v for k, v in self.__dict__.items() if k != "report"}
        data["report"] = self.report.to_dict() if self.report else None
        return data


@dataclass
class Waiting:
    """How to poll a table into ACTIVE (or out of existence)."""

    delay: int = 2
    max_attempts: int = 150
    calls: list[str] = field(default_factory=list)


def _call(client: Any, operation: str, **kwargs: Any) -> dict[str, Any]:
    try:
        return getattr(client, operation)(**kwargs)
    except (ClientError, BotoCoreError) as exc:
        raise _translate(client, exc) from exc


def _translate(client: Any, exc: Exception) -> Exception:
    return translate(exc, region=client.meta.region_name, endpoint_url=client.meta.endpoint_url)


def describe(client: Any, spec: TableSpec) -> dict[str, Any] | None:
    """DescribeTable's ``Table``, or None when the table does not exist."""
    try:
        return client.describe_table(TableName=spec.name)["Table"]
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            return None
        raise _translate(client, exc) from exc
    except BotoCoreError as exc:
        raise _translate(client, exc) from exc


def describe_report(client: Any, spec: TableSpec) -> tuple[TableReport, dict[str, Any] | None]:
    """Judge one table from DescribeTable alone (keys, GSIs, status, billing; not TTL or tags):
    the report and the ``Table`` it was judged on (None when absent). One control-plane call."""
    table = describe(client, spec)
    if table is None:
        return missing_report(spec), None
    return check_table(spec, table, None, None), table


def inspect_table(client: Any, spec: TableSpec) -> TableReport:
    """Compare one live table with its spec (read-only: Describe*, ListTagsOfResource)."""
    table = describe(client, spec)
    if table is None:
        return missing_report(spec)
    ttl = None
    if spec.ttl_attribute is not None:
        ttl = _call(client, "describe_time_to_live", TableName=spec.name).get(
            "TimeToLiveDescription", {}
        )
    tags = _list_tags(client, table["TableArn"])
    report = check_table(spec, table, ttl, tags)
    if tags is None:
        report.notes.append(TAGS_NOT_CHECKABLE)
    return report


def _list_tags(client: Any, arn: str) -> list[dict[str, str]] | None:
    """The table's tags, or None when the endpoint does not implement tagging."""
    tags: list[dict[str, str]] = []
    kwargs: dict[str, str] = {"ResourceArn": arn}
    while True:
        try:
            page = client.list_tags_of_resource(**kwargs)
        except ClientError as exc:
            if error_code(exc) in TAGGING_UNSUPPORTED_CODES:
                return None
            raise _translate(client, exc) from exc
        except BotoCoreError as exc:
            raise _translate(client, exc) from exc
        tags.extend(page.get("Tags", []))
        if not page.get("NextToken"):
            return tags
        kwargs["NextToken"] = page["NextToken"]


def validate_tables(client: Any, specs: Iterable[TableSpec]) -> list[TableReport]:
    """One report per spec; changes nothing and needs only read permissions."""
    return [inspect_table(client, spec) for spec in specs]


def create_tables(
    client: Any, specs: Iterable[TableSpec], *, force: bool = False, waiting: Waiting | None = None
) -> list[TableResult]:
    """Create every missing table, wait until ACTIVE, then enable TTL where the spec has one.

    Existing tables are skipped and not touched. With ``force`` CreateTable is sent for existing
    tables too, and DynamoDB's ``ResourceInUseException`` is reported as a failure for each.
    """
    waiting = waiting or Waiting()
    results = []
    for spec in specs:
        if not force and describe(client, spec) is not None:
            report = inspect_table(client, spec)
            results.append(TableResult(spec.logical, spec.name, "skipped", report=report))
            continue
        results.append(_create_one(client, spec, force, waiting))
    return results


def _create_one(client: Any, spec: TableSpec, force: bool, waiting: Waiting) -> TableResult:
    try:
        client.create_table(**spec.create_table_request())
    except ClientError as exc:
        if error_code(exc) != "ResourceInUseException":
            raise _translate(client, exc) from exc
        if not force:
            # Someone created it between our DescribeTable and CreateTable: it exists, skip it.
            return TableResult(spec.logical, spec.name, "skipped", "created meanwhile elsewhere")
        return TableResult(
            spec.logical,
            spec.name,
            "in_use",
            "already exists (ResourceInUseException): left as it is",
            failed=True,
        )
    except BotoCoreError as exc:
        raise _translate(client, exc) from exc
    _wait(client, "table_exists", spec, waiting)
    if spec.ttl_attribute is not None:
        _call(
            client,
            "update_time_to_live",
            TableName=spec.name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.ttl_attribute},
        )
    return TableResult(spec.logical, spec.name, "created", report=inspect_table(client, spec))


def _wait(client: Any, waiter_name: str, spec: TableSpec, waiting: Waiting) -> None:
    waiting.calls.append(f"{waiter_name}:{spec.name}")
    try:
        client.get_waiter(waiter_name).wait(
            TableName=spec.name,
            WaiterConfig={"Delay": waiting.delay, "MaxAttempts": waiting.max_attempts},
        )
    except WaiterError as exc:
        cause = exc.last_response if isinstance(exc.last_response, dict) else {}
        if "Error" in cause:
            raise _translate(client, ClientError(cause, "DescribeTable")) from exc
        raise TimeoutError(f"table {spec.name} did not settle in time ({waiter_name})") from exc


def delete_tables(
    client: Any, specs: Iterable[TableSpec], *, waiting: Waiting | None = None
) -> list[TableResult]:
    """Delete the configured tables and wait until they are gone (development clean-up)."""
    waiting = waiting or Waiting()
    results = []
    for spec in specs:
        try:
            client.delete_table(TableName=spec.name)
        except ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                results.append(TableResult(spec.logical, spec.name, "absent", "nothing to delete"))
                continue
            raise _translate(client, exc) from exc
        except BotoCoreError as exc:
            raise _translate(client, exc) from exc
        _wait(client, "table_not_exists", spec, waiting)
        results.append(TableResult(spec.logical, spec.name, "deleted"))
    return results


def partition_of(region: str) -> str:
    """The AWS partition of ``region`` for ARNs: ``aws``, ``aws-cn``, ``aws-us-gov``, ...

    botocore matches the region against each partition's pattern, so regions newer than the
    installed botocore resolve too; a name no partition claims is assumed to be in ``aws``.
    """
    try:
        return botocore.session.get_session().get_partition_for_region(region)
    except UnknownRegionError:
        return "aws"
