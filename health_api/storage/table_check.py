"""Compare a live table (DescribeTable, DescribeTimeToLive, ListTagsOfResource) with its spec.

Pure functions over the response dictionaries, so that ``setup_tables.py --validate``, ``/readyz``
and ``/admin/tables`` share one judgement and the tests can feed it any shape of table.

Key attribute *names* may differ from the spec (a table that already exists under other names still
works: the storage layer maps them); key *types* and *shapes* may not. A renamed key is a note, a
wrong type is a difference.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from health_api.storage.tables import IndexSpec, KeyAttribute, TableSpec

TTL_ON = {"ENABLED", "ENABLING"}


@dataclass
class TableReport:
    """What one table looks like next to its spec."""

    logical: str
    name: str
    exists: bool
    status: str | None = None
    differences: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    key_names: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when the table exists and nothing differs from the spec."""
        return self.exists and not self.differences

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape shared by ``--json`` and ``/admin/tables``."""
        return {**asdict(self), "ok": self.ok}

    def public_dict(self) -> dict[str, Any]:
        """What public ``/readyz`` may say: which table, whether it exists, its status and
        what differs, with no key attribute names (a difference in keys is only named as
        such; the names are ``/admin/tables``'s, behind an admin key)."""
        differences: list[str] = []
        for difference in self.differences:
            where, _, what = difference.partition(": ")
            if "HASH key" in what or "RANGE key" in what:  # "has a RANGE key <name>" too
                difference = f"{where}: keys differ from the spec (see /api/v1/admin/tables)"
            if difference not in differences:
                differences.append(difference)
        return {
            "logical": self.logical,
            "name": self.name,
            "exists": self.exists,
            "status": self.status,
            "ok": self.ok,
            "differences": differences,
        }


def missing_report(spec: TableSpec) -> TableReport:
    """The report for a table that does not exist."""
    return TableReport(
        spec.logical, spec.name, exists=False, differences=[f"table {spec.name} does not exist"]
    )


def check_table(
    spec: TableSpec,
    table: dict[str, Any],
    ttl: dict[str, Any] | None,
    tags: list[dict[str, str]] | None,
) -> TableReport:
    """Judge one existing table: ``table`` is DescribeTable's ``Table``, ``ttl`` the
    ``TimeToLiveDescription`` and ``tags`` ListTagsOfResource's ``Tags`` (None: not read)."""
    report = TableReport(spec.logical, spec.name, exists=True, status=table.get("TableStatus"))
    if report.status != "ACTIVE":
        report.differences.append(f"status is {report.status}, not ACTIVE")
    types = {a["AttributeName"]: a["AttributeType"] for a in table.get("AttributeDefinitions", [])}
    _check_keys(
        "key schema", spec.hash_key, spec.range_key, table.get("KeySchema", []), types, report
    )
    _check_billing(spec, table, report)
    live_indexes = {i["IndexName"]: i for i in table.get("GlobalSecondaryIndexes", []) or []}
    for index in spec.indexes:
        _check_index(index, live_indexes.get(index.name), types, report)
    for extra in sorted(set(live_indexes) - {i.name for i in spec.indexes}):
        report.notes.append(f"GSI {extra} is not in the spec (left alone)")
    _check_ttl(spec, ttl, report)
    _check_tags(spec, tags, report)
    return report


def _check_keys(
    what: str,
    hash_key: KeyAttribute,
    range_key: KeyAttribute | None,
    schema: list[dict[str, str]],
    types: dict[str, str],
    report: TableReport,
) -> None:
    live = {k["KeyType"]: k["AttributeName"] for k in schema}
    for key_type, expected in (("HASH", hash_key), ("RANGE", range_key)):
        actual = live.get(key_type)
        if expected is None:
            if actual is not None:
                report.differences.append(
                    f"{what}: has a {key_type} key {actual}, the spec has none"
                )
            continue
        if actual is None:
            report.differences.append(
                f"{what}: {key_type} key {expected.name} ({expected.type}) is missing"
            )
            continue
        actual_type = types.get(actual)
        if actual_type != expected.type:
            report.differences.append(
                f"{what}: {key_type} key {actual} has type {actual_type}, expected {expected.type}"
            )
        report.key_names.setdefault(expected.name, actual)
        if actual != expected.name:
            report.notes.append(
                f"{what}: {key_type} key is named {actual} (spec: {expected.name}); mapped"
            )


def _check_billing(spec: TableSpec, table: dict[str, Any], report: TableReport) -> None:
    # A table created as PROVISIONED before on-demand existed may carry no BillingModeSummary.
    mode = (table.get("BillingModeSummary") or {}).get("BillingMode", "PROVISIONED")
    if mode != spec.billing_mode:
        report.differences.append(f"billing mode is {mode}, expected {spec.billing_mode}")


def _check_index(
    index: IndexSpec, live: dict[str, Any] | None, types: dict[str, str], report: TableReport
) -> None:
    if live is None or live.get("IndexStatus") == "DELETING":
        # A deleted GSI stays in DescribeTable as DELETING for a while, its key attributes
        # already gone from AttributeDefinitions: it is as good as missing.
        going = "" if live is None else " (being deleted)"
        report.differences.append(f"GSI {index.name} is missing{going}")
        return
    what = f"GSI {index.name}"
    _check_keys(what, index.hash_key, index.range_key, live.get("KeySchema", []), types, report)
    projection = (live.get("Projection") or {}).get("ProjectionType")
    if projection != index.projection:
        report.differences.append(
            f"{what}: projection is {projection}, expected {index.projection}"
        )
    status = live.get("IndexStatus", "ACTIVE")
    if status != "ACTIVE":
        report.differences.append(f"{what}: status is {status}, not ACTIVE")


def _check_ttl(spec: TableSpec, ttl: dict[str, Any] | None, report: TableReport) -> None:
    if spec.ttl_attribute is None or ttl is None:
        return
    status = ttl.get("TimeToLiveStatus", "DISABLED")
    attribute = ttl.get("AttributeName")
    if status not in TTL_ON:
        report.differences.append(f"TTL is off (expected on attribute {spec.ttl_attribute})")
    elif attribute != spec.ttl_attribute:
        report.differences.append(f"TTL is on attribute {attribute}, expected {spec.ttl_attribute}")
    elif status == "ENABLING":
        report.notes.append("TTL is still being enabled")


def _check_tags(spec: TableSpec, tags: list[dict[str, str]] | None, report: TableReport) -> None:
    if tags is None:
        return
    live = {t["Key"]: t["Value"] for t in tags}
    for key, value in sorted(spec.tags.items()):
        if key not in live:
            report.differences.append(f"tag {key}={value} is missing")
        elif live[key] != value:
            report.differences.append(f"tag {key} is {live[key]!r}, expected {value!r}")
