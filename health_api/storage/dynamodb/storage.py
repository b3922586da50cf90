"""The DynamoDB backend: one client, three repositories, and a start-up check of the tables.

:meth:`DynamoStorage.open` describes every table before serving: a missing table, a key of the
wrong type or shape, or a missing GSI the repositories query would fail on every request, so
the backend refuses to open and says how to fix it. Softer differences (billing, an index
still building) are left to ``/readyz``; TTL and tags to ``/admin/tables`` and
``setup_tables.py --validate``. Key attribute *names* are taken from the live
table, so a table whose keys are called differently from the spec still works.

Start-up and readiness send DescribeTable only: every gunicorn worker of every pod opens the
storage and answers probes, and ``ListTagsOfResource`` allows 10 calls/s per account.
"""

from __future__ import annotations

import time
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from health_api.domain.errors import StorageUnavailableError
from health_api.storage.dynamodb import admin
from health_api.storage.dynamodb.client import build_client, error_code, translate
from health_api.storage.dynamodb.doctors import DynamoDoctorRepository
from health_api.storage.dynamodb.idempotency import DynamoIdempotencyRepository
from health_api.storage.dynamodb.items import TableRef
from health_api.storage.dynamodb.sessions import DynamoSessionRepository
from health_api.storage.dynamodb.slots import DynamoSlotRepository
from health_api.storage.table_check import TableReport
from health_api.storage.tables import (
    DOCTORES,
    HORARIOS_DOCTORES,
    IDEMPOTENCY_KEYS,
    USER_SESSIONS,
    TableSpec,
    table_specs,
)

# Differences that make the repositories' requests fail: refuse to start on these.
_FATAL_PREFIXES = ("key schema:", "GSI ")
_SOFT_GSI_SUFFIX = "not ACTIVE"  # an index still building: /readyz reports it
# How long /readyz trusts a DescribeTable that found every table as its spec wants: a change
# the per-table probe cannot see (an index or the billing mode) shows within this time.
DESCRIBE_CACHE_SECONDS = 10.0
# The readiness probe reads this key in every table, which no real item carries: an eventually
# consistent read of an absent item costs 0.5 RCU and no data leaves the table.
PROBE_KEY = "readyz-probe-absent"
_PROBE_VALUES: dict[str, Any] = {"S": PROBE_KEY, "N": -1, "B": PROBE_KEY.encode()}


def _probe_key(spec: TableSpec, table: TableRef) -> dict[str, Any]:
    """The absent key the readiness probe reads in ``table`` (its live key names)."""
    keys = [spec.hash_key, *([spec.range_key] if spec.range_key else [])]
    return table.key(**{key.name: _PROBE_VALUES[key.type] for key in keys})


def fatal_differences(report: TableReport) -> list[str]:
    """The differences of ``report`` that the repositories cannot work around."""
    if not report.exists:
        return list(report.differences)
    return [
        difference
        for difference in report.differences
        if (difference.startswith(_FATAL_PREFIXES) and not difference.endswith(_SOFT_GSI_SUFFIX))
        # A table still being created cannot be read or written yet.
        or difference.startswith("status is CREATING")
    ]


def _index_name_clashes(table: dict[str, Any], spec: TableSpec, report: TableReport) -> list[str]:
    """GSI keys that a renamed table maps to two different attributes.

    One attribute has one stored name: when the table's range key is ``starts_at`` but the
    GSI's is ``fecha``, no item would carry ``fecha`` and the index would stay empty.
    """
    clashes = []
    for live in table.get("GlobalSecondaryIndexes", []) or []:
        try:
            index = spec.index(live["IndexName"])
        except KeyError:
            continue  # an index the service does not use
        wanted = {"HASH": index.hash_key, "RANGE": index.range_key}
        for key in live.get("KeySchema", []):
            expected = wanted.get(key["KeyType"])
            mapped = report.key_names.get(expected.name) if expected else None
            if mapped and mapped != key["AttributeName"]:
                clashes.append(
                    f"GSI {index.name}: {key['KeyType']} key {key['AttributeName']} must be "
                    f"the table's {mapped} attribute"
                )
    return clashes


def _refusal(spec: TableSpec, report: TableReport, fatal: list[str]) -> StorageUnavailableError:
    if not report.exists:
        return StorageUnavailableError(
            f"table {spec.name} does not exist: run python setup_tables.py to create it"
        )
    return StorageUnavailableError(
        f"table {spec.name} does not match what the service needs ({'; '.join(fatal)}): "
        "fix the table or point the service at another one "
        "(python setup_tables.py --validate lists every difference)"
    )


class DynamoStorage:
    """``Storage`` on DynamoDB."""

    def __init__(self, client: Any, specs: dict[str, TableSpec], reports: dict[str, TableReport]):
        self._client = client
        self._specs = specs

        def ref(logical: str) -> TableRef:
            return TableRef(specs[logical].name, dict(reports[logical].key_names))

        self.doctors = DynamoDoctorRepository(client, ref(DOCTORES))
        self.slots = DynamoSlotRepository(client, ref(HORARIOS_DOCTORES), ref(DOCTORES))
        self.sessions = DynamoSessionRepository(client, ref(USER_SESSIONS))
        self.idempotency = DynamoIdempotencyRepository(client, ref(IDEMPOTENCY_KEYS))
        # Every served table is probed: a deleted one is a 503 at the next probe, not only
        # once the DescribeTable cache runs out.
        self._probes = [
            (spec.name, _probe_key(spec, ref(logical))) for logical, spec in specs.items()
        ]
        # (monotonic time, reports) of the last DescribeTable round that found nothing wrong;
        # start-up's own round counts, so a fresh worker's first probe describes nothing.
        self._described: tuple[float, list[TableReport]] | None = None
        ordered = [reports[logical] for logical in specs if logical in reports]
        if len(ordered) == len(specs) and all(r.ok for r in ordered):
            self._described = (time.monotonic(), ordered)

    @classmethod
    def open(cls, settings: Any) -> DynamoStorage:
        """Build the process's one client and check the tables; ``StorageUnavailableError``
        (with the fix in its message) when a table is missing or unusable."""
        client = build_client(
            settings.aws_region,
            settings.dynamodb_endpoint_url,
            connect_timeout=settings.dynamodb_connect_timeout,
            read_timeout=settings.dynamodb_read_timeout,
        )
        try:
            return cls.on_client(client, settings)
        except BaseException:
            client.close()
            raise

    @classmethod
    def on_client(cls, client: Any, settings: Any) -> DynamoStorage:
        """The backend on an existing client (tests wrap it in a Stubber or event hooks),
        after the same table checks as :meth:`open`: one DescribeTable per table."""
        specs = table_specs(settings)
        reports = {}
        for logical, spec in specs.items():
            report, table = admin.describe_report(client, spec)
            fatal = fatal_differences(report)
            if table is not None and not fatal:
                fatal = _index_name_clashes(table, spec, report)
            if fatal:
                raise _refusal(spec, report, fatal)
            reports[logical] = report
        return cls(client, specs, reports)

    def check_tables(self) -> list[TableReport]:
        """One report per table against its whole spec, TTL and tags included
        (``/admin/tables``)."""
        return admin.validate_tables(self._client, self._specs.values())

    def check_ready(self) -> list[TableReport]:
        """Readiness (``/readyz``): one eventually consistent GetItem of an absent key in every
        served table on every call, and each table judged from DescribeTable, reused for
        ``DESCRIBE_CACHE_SECONDS`` while nothing is wrong and re-read after any failure or a
        missing table, so a deleted, recovered or re-created table is seen without a restart.
        TTL and tags are :meth:`check_tables`'s."""
        try:
            table_there = self._probe()
        except StorageUnavailableError:
            self._described = None
            raise
        cached = self._described
        if table_there and cached and time.monotonic() - cached[0] < DESCRIBE_CACHE_SECONDS:
            return list(cached[1])
        self._described = None
        reports = [admin.describe_report(self._client, s)[0] for s in self._specs.values()]
        if all(r.ok for r in reports):
            self._described = (time.monotonic(), reports)
        return reports

    def _probe(self) -> bool:
        """Read an absent item of every served table; False when one of them is gone."""
        return all(self._probe_table(name, key) for name, key in self._probes)

    def _probe_table(self, name: str, key: dict[str, Any]) -> bool:
        try:
            self._client.get_item(TableName=name, Key=key, ConsistentRead=False)
        except ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return False
            raise translate(exc, region=self._region, endpoint_url=self._endpoint) from exc
        except BotoCoreError as exc:
            raise translate(exc, region=self._region, endpoint_url=self._endpoint) from exc
        return True

    @property
    def _region(self) -> str:
        return self._client.meta.region_name

    @property
    def _endpoint(self) -> str | None:
        return self._client.meta.endpoint_url

    def end_request(self) -> None:
        """Nothing per request: the client and its connection pool are shared."""

    def release(self) -> None:
        """Nothing per thread: the client and its connection pool are shared."""

    def close(self) -> None:
        """Close the client's connection pool; the object is unusable afterwards."""
        self._client.close()
