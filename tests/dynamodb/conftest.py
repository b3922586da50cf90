"""Fixtures of the DynamoDB-only tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from health_api.config import load_settings
from health_api.storage.dynamodb import admin
from health_api.storage.dynamodb.client import build_client
from health_api.storage.dynamodb.storage import DynamoStorage
from health_api.storage.tables import HORARIOS_DOCTORES, table_specs


@pytest.fixture
def on_moto() -> Iterator[tuple[DynamoStorage, Any, str]]:
    """A DynamoStorage on moto, its client (to stub or hook), and the slots table's name."""
    with mock_aws():
        settings = load_settings({}).replace(storage="dynamodb")
        client = build_client(settings.aws_region, settings.dynamodb_endpoint_url)
        specs = table_specs(settings)
        admin.create_tables(client, specs.values(), waiting=admin.Waiting(delay=1))
        storage = DynamoStorage.on_client(client, settings)
        yield storage, client, specs[HORARIOS_DOCTORES].name
        storage.close()
