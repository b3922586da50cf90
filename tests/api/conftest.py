"""API fixtures: the app on either backend (a fresh store each test), keys, and a client."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from health_api import create_app
from health_api.config import ApiKey
from tests.conftest import storage_kind

ADMIN_KEY = "admin-test-key-0123456789"
AGENT_KEY = "agent-test-key-0123456789"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
AGENT = {"Authorization": f"Bearer {AGENT_KEY}"}
KEY_ID_SECRET = "test-key-id-secret-0123456789abcdef"


@pytest.fixture
def app(make_storage, engine_settings) -> Flask:
    """The app on ``backend`` with one admin and one agent key and a generous rate limit."""
    storage = make_storage()
    settings = with_test_keys(engine_settings())
    return create_app({"settings": settings, "storage": storage})


def with_test_keys(settings, **changes):
    """``settings`` with the test keys, environment ``test`` and generous rate limits."""
    return settings.replace(
        environment="test",
        **{
            "api_keys": (ApiKey("admin", ADMIN_KEY), ApiKey("agent", AGENT_KEY)),
            "rate_limit": "100000/minute",
            "auth_failure_limit": "100000/minute",
            "key_id_secret": KEY_ID_SECRET,
            **changes,
        },
    )


def storage_settings(backend: str, tmp_path, **changes):
    """Settings for an engine (``sqlite``, ``dynamodb-local``, ``moto``) with test keys; a
    DynamoDB endpoint and table names come in ``changes``."""
    from health_api.config import load_settings

    base = load_settings({}).replace(
        storage=storage_kind(backend), sqlite_path=tmp_path / "health.db"
    )
    return with_test_keys(base, **changes)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client on ``app``."""
    return app.test_client()


@pytest.fixture
def token_app(make_storage, engine_settings) -> Flask:
    """The app on ``backend`` with admin, agent and issuer keys and a signing key of its own:
    it mints and accepts user tokens (see ``tests/api/tokens.py``)."""
    from tests.api.tokens import token_settings

    storage = make_storage()
    return create_app({"settings": token_settings(engine_settings()), "storage": storage})


@pytest.fixture
def token_client(token_app: Flask) -> FlaskClient:
    """A test client on ``token_app``."""
    return token_app.test_client()
