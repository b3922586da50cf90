"""End to end: the real ``setup_tables.py`` process over HTTP against AWS's DynamoDB Local (which
does not implement tagging: tags are a note there) and moto's standalone server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from health_api.storage.tables import LOGICAL_TABLES

SCRIPT = Path(__file__).resolve().parents[2] / "setup_tables.py"


@pytest.fixture(params=["dynamodb-local", "moto"])
def endpoint(request: pytest.FixtureRequest) -> str:
    """The URL of the engine under test (both shared by the whole test session)."""
    return request.getfixturevalue(
        "dynamodb_local" if request.param == "dynamodb-local" else "moto_server_url"
    )


@pytest.fixture
def cli(endpoint: str, table_prefix: str):
    env = {**os.environ, "HEALTH_API_TABLE_PREFIX": table_prefix}

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(SCRIPT), "--endpoint-url", endpoint, *argv],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    return run


@pytest.fixture
def server_client(endpoint: str):
    return boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1")


def test_create_rerun_validate_break_and_validate_again(cli, server_client, table_prefix) -> None:
    created = cli()
    assert created.returncode == 0, created.stderr
    assert created.stdout.count("created") == len(LOGICAL_TABLES)

    rerun = cli()
    assert rerun.returncode == 0, rerun.stderr
    assert rerun.stdout.count("skipped") == len(LOGICAL_TABLES)

    valid = cli("--validate")
    assert valid.returncode == 0, valid.stdout
    assert f"{len(LOGICAL_TABLES)} match, 0 differ" in valid.stdout

    server_client.update_time_to_live(
        TableName=f"{table_prefix}user_sessions",
        TimeToLiveSpecification={"Enabled": False, "AttributeName": "ttl"},
    )
    server_client.update_table(
        TableName=f"{table_prefix}horarios_doctores",
        GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "user_id-index"}}],
    )
    server_client.delete_table(TableName=f"{table_prefix}doctores")

    broken = cli("--validate")

    assert broken.returncode == 1
    # DynamoDB Local (like AWS) may still list the index as DELETING: "missing (being deleted)".
    differences = [
        line.removesuffix(" (being deleted)")
        for line in broken.stdout.splitlines()
        if line.startswith("DIFF")
    ]
    assert differences == [
        f"DIFF   {table_prefix}doctores: table {table_prefix}doctores does not exist",
        f"DIFF   {table_prefix}horarios_doctores: GSI user_id-index is missing",
        f"DIFF   {table_prefix}user_sessions: TTL is off (expected on attribute ttl)",
    ]
    assert "Traceback" not in broken.stderr


def test_delete_then_validate_reports_every_table_missing(cli) -> None:
    assert cli().returncode == 0

    deleted = cli("--delete", "--yes")
    missing = cli("--validate", "--json")

    assert deleted.returncode == 0
    assert deleted.stdout.count("deleted") == len(LOGICAL_TABLES)
    assert missing.returncode == 1
    assert missing.stdout.count('"exists": false') == len(LOGICAL_TABLES)


def test_a_server_that_is_not_listening_is_explained() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--validate", "--endpoint-url", "http://127.0.0.1:9"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 3
    assert "could not be reached" in result.stderr
    assert "Traceback" not in result.stderr
