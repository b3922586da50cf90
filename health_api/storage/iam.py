"""Least-privilege IAM policies for exactly the configured tables and their indexes.

Two policies: what the running service needs (item reads/writes, queries, and the read-only
Describe calls behind ``/readyz``), and what ``setup_tables.py`` needs to create and check tables.
Transactions (``TransactWriteItems``) need no action of their own: IAM checks the item actions
they contain (``UpdateItem``, ``ConditionCheckItem``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from health_api.storage.tables import TableSpec

SERVICE_ITEM_ACTIONS = (
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:Query",
)
READ_METADATA_ACTIONS = (
    "dynamodb:DescribeTable",
    "dynamodb:DescribeTimeToLive",
    "dynamodb:ListTagsOfResource",
)
SETUP_ACTIONS = (
    "dynamodb:CreateTable",
    "dynamodb:UpdateTimeToLive",
    "dynamodb:TagResource",
    *READ_METADATA_ACTIONS,
)
DELETE_ACTIONS = ("dynamodb:DeleteTable",)


def table_arn(spec: TableSpec, region: str, account: str) -> str:
    """The ARN of a table; ``account`` may be ``*`` when it is not known."""
    return f"arn:aws:dynamodb:{region}:{account}:table/{spec.name}"


def _statement(sid: str, actions: Iterable[str], resources: list[str]) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": list(actions), "Resource": resources}


def service_policy(specs: Iterable[TableSpec], region: str, account: str = "*") -> dict[str, Any]:
    """What the API process needs: item access, queries on the GSIs, table metadata reads."""
    specs = list(specs)
    tables = [table_arn(s, region, account) for s in specs]
    indexes = [f"{table_arn(s, region, account)}/index/{i.name}" for s in specs for i in s.indexes]
    return {
        "Version": "2012-10-17",
        "Statement": [
            _statement("HealthApiItems", SERVICE_ITEM_ACTIONS, tables),
            _statement("HealthApiIndexQueries", ("dynamodb:Query",), indexes),
            _statement("HealthApiReadiness", READ_METADATA_ACTIONS, tables),
        ],
    }


def setup_policy(
    specs: Iterable[TableSpec], region: str, account: str = "*", *, allow_delete: bool = False
) -> dict[str, Any]:
    """What ``setup_tables.py`` needs (``--validate`` alone needs only the Describe/List ones)."""
    tables = [table_arn(s, region, account) for s in specs]
    statements = [_statement("HealthApiSetupTables", SETUP_ACTIONS, tables)]
    if allow_delete:
        statements.append(_statement("HealthApiDeleteTables", DELETE_ACTIONS, tables))
    return {"Version": "2012-10-17", "Statement": statements}
