"""Shared fixtures: a clean AWS environment, moto in-process, moto's server over HTTP, the app."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

AWS_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_DYNAMODB",
    "DYNAMODB_ENDPOINT_URL",
    "HEALTH_API_CONFIG",
    "HEALTH_API_TABLE_PREFIX",
    "HEALTH_API_TABLE_DOCTORES",
    "HEALTH_API_TABLE_HORARIOS_DOCTORES",
    "HEALTH_API_TABLE_USER_SESSIONS",
    "HEALTH_API_KEYS",
    "HEALTH_API_STORAGE",
    "ENVIRONMENT",
)


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Fake credentials, a fixed region, and nothing from the developer's own AWS set-up."""
    for name in AWS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    empty = tmp_path_factory.getbasetemp() / "no-aws-config"
    values = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(empty),
        "AWS_SHARED_CREDENTIALS_FILE": str(empty),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


@pytest.fixture
def mock_dynamodb() -> Iterator[object]:
    """moto's in-process DynamoDB; yields a client on it."""
    import boto3
    from moto import mock_aws

    with mock_aws():
        yield boto3.client("dynamodb", region_name="us-east-1")


@pytest.fixture(scope="session")
def moto_server_url() -> Iterator[str]:
    """moto's standalone server over HTTP on 127.0.0.1 (a free port), for the whole session."""
    from moto.server import ThreadedMotoServer

    os.environ.setdefault("MOTO_CALL_RESET_API", "false")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def table_prefix() -> str:
    """A prefix no other test uses, so tests can share one moto server."""
    return f"t{uuid.uuid4().hex[:10]}-"
