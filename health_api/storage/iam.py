"""Least-privilege IAM policies for exactly the configured tables and their indexes.

Two policies: what the running service calls (item reads and writes, queries, the full scan of
``GET /doctors`` without a specialty, and the Describe/List calls behind ``/readyz`` and
``/api/v1/admin/tables``), and what ``setup_tables.py`` calls to create and check tables.
Transactions (``TransactWriteItems``) need no action of their own: IAM checks the item actions
they contain (``PutItem``, ``UpdateItem``, ``ConditionCheckItem``).
``tests/unit/test_iam_policy.py`` derives the calls from the code and keeps these lists equal.

ARNs carry the region's partition (``aws``, ``aws-cn``, ``aws-us-gov``, ...): the caller passes it
(``setup_tables.py`` asks botocore), as this module stays free of AWS libraries.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from health_api.storage.tables import TableSpec

SERVICE_ITEM_ACTIONS = (
    "dynamodb:GetItem",
    # Consistent re-reads of the items a GSI page returned (read-your-writes after GSI lag).
    "dynamodb:BatchGetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    # Slot-creating transactions check that the doctor exists and is not being deleted.
    "dynamodb:ConditionCheckItem",
    "dynamodb:Query",
    # GET /doctors without a specialty pages through the doctors table.
    "dynamodb:Scan",
)
# Only queries use the GSIs (especialidad-index, user_id-index).
INDEX_ACTIONS = ("dynamodb:Query",)
# DescribeTable: start-up and /readyz (cached); the other two: /api/v1/admin/tables only.
READ_METADATA_ACTIONS = (
    "dynamodb:DescribeTable",
    "dynamodb:DescribeTimeToLive",
    "dynamodb:ListTagsOfResource",
)
SETUP_ACTIONS = (
    "dynamodb:CreateTable",
    "dynamodb:UpdateTimeToLive",
    # CreateTable with Tags is authorised as TagResource too.
    "dynamodb:TagResource",
    *READ_METADATA_ACTIONS,
)
DELETE_ACTIONS = ("dynamodb:DeleteTable",)


def table_arn(spec: TableSpec, region: str, account: str, partition: str = "aws") -> str:
    """The ARN of a table; ``account`` may be ``*`` when it is not known."""
    return f"arn:{partition}:dynamodb:{region}:{account}:table/{spec.name}"


def _statement(sid: str, actions: Iterable[str], resources: list[str]) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": list(actions), "Resource": resources}


def service_policy(
    specs: Iterable[TableSpec], region: str, account: str = "*", *, partition: str = "aws"
) -> dict[str, Any]:
    """What the API process calls: item access, queries on the GSIs, table metadata reads."""
    specs = list(specs)
    tables = [table_arn(s, region, account, partition) for s in specs]
    indexes = [
        f"{table_arn(s, region, account, partition)}/index/{i.name}"
        for s in specs
        for i in s.indexes
    ]
    return {
        "Version": "2012-10-17",
        "Statement": [
            _statement("HealthApiItems", SERVICE_ITEM_ACTIONS, tables),
            _statement("HealthApiIndexQueries", INDEX_ACTIONS, indexes),
            _statement("HealthApiTableChecks", READ_METADATA_ACTIONS, tables),
        ],
    }


def setup_policy(
    specs: Iterable[TableSpec],
    region: str,
    account: str = "*",
    *,
    partition: str = "aws",
    allow_delete: bool = False,
) -> dict[str, Any]:
    """What ``setup_tables.py`` calls (``--validate`` alone needs only the Describe/List ones)."""
    tables = [table_arn(s, region, account, partition) for s in specs]
    statements = [_statement("HealthApiSetupTables", SETUP_ACTIONS, tables)]
    if allow_delete:
        statements.append(_statement("HealthApiDeleteTables", DELETE_ACTIONS, tables))
    return {"Version": "2012-10-17", "Statement": statements}
