"""The one fixture every contract test runs on: a fresh store on SQLite (a file) or moto."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from health_api.config import Settings, load_settings
from health_api.storage.base import Storage
from health_api.storage.factory import build_storage

BACKENDS = ("sqlite", "dynamodb")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The backend name, for the few tests that must say which one they run on."""
    return request.param


@pytest.fixture
def make_storage(backend: str, tmp_path: Path) -> Iterator[Callable[..., Storage]]:
    """Build a store on ``backend`` from settings changes (tables created on DynamoDB)."""
    opened: list[Storage] = []
    context = None
    if backend == "dynamodb":
        from moto import mock_aws

        context = mock_aws()
        context.start()

    def make(**changes) -> Storage:
        settings: Settings = load_settings({}).replace(
            storage=backend, sqlite_path=tmp_path / "health.db", **changes
        )
        if backend == "dynamodb":
            create_dynamodb_tables(settings)
        store = build_storage(settings)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()
    if context is not None:
        context.stop()


@pytest.fixture
def storage(make_storage: Callable[..., Storage]) -> Storage:
    """A fresh, empty store on the parametrised backend."""
    return make_storage()


def create_dynamodb_tables(settings: Settings) -> None:
    """Create the spec'd tables on moto, as ``setup_tables.py`` would."""
    from health_api.storage.dynamodb import admin
    from health_api.storage.dynamodb.client import build_client
    from health_api.storage.tables import table_specs

    client = build_client(settings.aws_region, settings.dynamodb_endpoint_url)
    admin.create_tables(client, table_specs(settings).values(), waiting=admin.Waiting(delay=1))
