"""The printed IAM policies grant exactly the DynamoDB operations the code calls.

The operations are derived from the source (an AST scan of ``health_api/storage/dynamodb`` and
``setup_tables.py``), not listed by hand, so that a new call without its permission (or a
permission no code uses any more) fails here instead of in production with AccessDenied:

- ``client.<operation>(...)`` on any object (``describe_table``, ``get_item``, ...);
- a literal passed as the ``operation`` parameter of a helper (``call(client, "query", ...)``,
  ``collect(client, "scan", ...)``), or as ``waiter_name`` (a waiter's own operation);
- ``TransactItems`` entries: a ``{"Put"|"Update"|"Delete"|"ConditionCheck": {...}}`` literal
  is checked by IAM as ``PutItem``/``UpdateItem``/``DeleteItem``/``ConditionCheckItem``;
- ``CreateTable`` with ``Tags`` is authorised as ``TagResource`` too.

The service is every module of the package except ``admin.py``, plus the ``admin`` functions
those modules use (and what they call); ``setup_tables.py`` is the ``admin`` functions it uses.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from functools import cache
from pathlib import Path

import botocore.session
import pytest

from health_api.config import load_settings
from health_api.storage import iam
from health_api.storage.tables import table_specs

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "health_api" / "storage" / "dynamodb"
ADMIN = PACKAGE / "admin.py"
SETUP_SCRIPT = ROOT / "setup_tables.py"
# IAM checks each entry of a transaction as the item action it stands for.
TRANSACT_ENTRIES = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}
# Operations IAM does not authorise by themselves (their entries are checked instead).
NO_ACTION_OF_THEIR_OWN = {"TransactWriteItems", "TransactGetItems"}


@cache
def _client_model() -> tuple[dict[str, str], dict[str, str]]:
    """(snake_case method -> operation, waiter name -> operation) of botocore's DynamoDB."""
    client = botocore.session.get_session().create_client(
        "dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    waiters = {name: client.get_waiter(name).config.operation for name in client.waiter_names}
    return dict(client.meta.method_to_api_mapping), waiters


def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _callee(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Name):
        return node.func.id
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return None


def _literal_parameters(trees: Iterable[ast.Module]) -> dict[str, dict[str, int]]:
    """Helpers taking an ``operation`` or ``waiter_name`` parameter: name -> {param: position}."""
    found: dict[str, dict[str, int]] = {}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                names = [a.arg for a in node.args.posonlyargs + node.args.args]
                wanted = {n: i for i, n in enumerate(names) if n in {"operation", "waiter_name"}}
                if wanted:
                    found[node.name] = wanted
    return found


def _operations(node: ast.AST, helpers: dict[str, dict[str, int]]) -> set[str]:
    """The DynamoDB operations the code under ``node`` sends."""
    methods, waiters = _client_model()
    found: set[str] = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Call):
            callee = _callee(child)
            if isinstance(child.func, ast.Attribute) and callee in methods:
                found.add(methods[callee])
            for parameter, position in helpers.get(callee or "", {}).items():
                args = [a for a in child.args if not isinstance(a, ast.Starred)]
                given = [k.value for k in child.keywords if k.arg == parameter]
                value = given[0] if given else (args[position] if position < len(args) else None)
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    table = methods if parameter == "operation" else waiters
                    assert value.value in table, f"{value.value!r} is not a DynamoDB {parameter}"
                    found.add(table[value.value])
        if isinstance(child, ast.Dict):
            for key, value in zip(child.keys, child.values, strict=True):
                if (
                    isinstance(key, ast.Constant)
                    and key.value in TRANSACT_ENTRIES
                    and isinstance(value, ast.Dict)
                ):
                    found.add(TRANSACT_ENTRIES[key.value])
    if "CreateTable" in found and _specs_have_tags():
        found.add("TagResource")
    return found - NO_ACTION_OF_THEIR_OWN


def _specs_have_tags() -> bool:
    specs = table_specs(load_settings({}))
    return any(spec.create_table_request().get("Tags") for spec in specs.values())


def _admin_functions() -> dict[str, ast.FunctionDef]:
    return {node.name: node for node in _parse(ADMIN).body if isinstance(node, ast.FunctionDef)}


def _admin_names_used(tree: ast.Module) -> set[str]:
    """``admin.<name>`` references in a module that imports the admin module."""
    return {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "admin"
    }


def _reachable_admin_operations(roots: set[str], helpers) -> set[str]:
    """The operations of ``admin`` functions ``roots`` and of every admin function they call."""
    functions = _admin_functions()
    seen: set[str] = set()
    pending = [name for name in roots if name in functions]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        for node in ast.walk(functions[name]):
            if isinstance(node, ast.Call) and _callee(node) in functions:
                pending.append(_callee(node))
    found: set[str] = set()
    for name in seen:
        found |= _operations(functions[name], helpers)
    return found


@cache
def derived() -> dict[str, set[str]]:
    """Operations the service, ``setup_tables.py`` and its ``--delete`` send."""
    modules = {path: _parse(path) for path in sorted(PACKAGE.glob("*.py"))}
    setup_tree = _parse(SETUP_SCRIPT)
    helpers = _literal_parameters([*modules.values(), setup_tree])
    service: set[str] = set()
    used_admin: set[str] = set()
    for path, tree in modules.items():
        if path != ADMIN:
            service |= _operations(tree, helpers)
            used_admin |= _admin_names_used(tree)
    service |= _reachable_admin_operations(used_admin, helpers)
    setup_roots = _admin_names_used(setup_tree)
    setup = _reachable_admin_operations(setup_roots - {"delete_tables"}, helpers)
    delete = _reachable_admin_operations({"delete_tables"}, helpers) - setup
    return {"service": service, "setup": setup, "delete": delete, "index": _index_ops(modules)}


def _index_ops(modules: dict[Path, ast.Module]) -> set[str]:
    """Operations sent by functions that name an ``IndexName`` (requests on a GSI)."""
    helpers = _literal_parameters(modules.values())
    found: set[str] = set()
    for tree in modules.values():
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef):
                continue
            names_index = any(
                (isinstance(n, ast.Constant) and n.value == "IndexName")
                or (isinstance(n, ast.keyword) and n.arg == "IndexName")
                for n in ast.walk(function)
            )
            if names_index:
                found |= _operations(function, helpers) & {"Query", "Scan"}
    return found


def _actions(statements: Iterable[dict], *, on_indexes: bool) -> set[str]:
    return {
        action.removeprefix("dynamodb:")
        for statement in statements
        if any(("/index/" in arn) == on_indexes for arn in statement["Resource"])
        for action in statement["Action"]
    }


@pytest.fixture
def specs():
    return list(table_specs(load_settings({})).values())


def test_the_scan_finds_the_calls_it_is_meant_to_find() -> None:
    # A guard on the scan itself: these calls exist today, in each of its four forms.
    calls = derived()

    assert {"GetItem", "Query", "Scan", "DescribeTable"} <= calls["service"]
    assert {"PutItem", "UpdateItem"} <= calls["service"]  # transaction entries
    assert {"CreateTable", "UpdateTimeToLive", "TagResource"} <= calls["setup"]
    assert calls["delete"] == {"DeleteTable"}


def test_the_service_policy_grants_exactly_what_the_service_calls(specs) -> None:
    policy = iam.service_policy(specs, "us-east-1")

    granted = _actions(policy["Statement"], on_indexes=False)

    assert granted == derived()["service"], (
        f"missing: {sorted(derived()['service'] - granted)}, "
        f"never called: {sorted(granted - derived()['service'])}"
    )


def test_the_gsis_are_granted_exactly_the_operations_sent_to_them(specs) -> None:
    policy = iam.service_policy(specs, "us-east-1")

    assert _actions(policy["Statement"], on_indexes=True) == derived()["index"] == {"Query"}


def test_the_setup_policy_grants_exactly_what_setup_tables_calls(specs) -> None:
    without_delete = iam.setup_policy(specs, "us-east-1")
    with_delete = iam.setup_policy(specs, "us-east-1", allow_delete=True)

    granted = _actions(without_delete["Statement"], on_indexes=False)
    deleting = _actions(with_delete["Statement"], on_indexes=False) - granted

    assert granted == derived()["setup"]
    assert deleting == derived()["delete"]


@pytest.mark.parametrize(
    ("partition", "prefix"),
    [("aws", "arn:aws:"), ("aws-cn", "arn:aws-cn:"), ("aws-us-gov", "arn:aws-us-gov:")],
)
def test_every_arn_carries_the_partition_it_is_given(specs, partition, prefix) -> None:
    policies = [
        iam.service_policy(specs, "r-1", "123", partition=partition),
        iam.setup_policy(specs, "r-1", "123", partition=partition, allow_delete=True),
    ]

    arns = [arn for p in policies for s in p["Statement"] for arn in s["Resource"]]

    assert arns
    assert all(arn.startswith(f"{prefix}dynamodb:r-1:123:table/") for arn in arns)
