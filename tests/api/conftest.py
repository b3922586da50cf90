"""API fixtures: the app on either backend (a fresh store each test), keys, and a client."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from health_api import create_app
from health_api.config import ApiKey

ADMIN_KEY = "admin-test-key-0123456789"
AGENT_KEY = "agent-test-key-0123456789"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
AGENT = {"Authorization": f"Bearer {AGENT_KEY}"}


@pytest.fixture
def app(make_storage, backend, tmp_path) -> Flask:
    """The app on ``backend`` with one admin and one agent key and a generous rate limit."""
    storage = make_storage()
    settings = storage_settings(backend, tmp_path)
    return create_app({"settings": settings, "storage": storage})


def storage_settings(backend: str, tmp_path, **changes):
    """Settings matching ``make_storage``'s store, with test keys."""
    from health_api.config import load_settings

    return load_settings({}).replace(
        storage=backend,
        sqlite_path=tmp_path / "health.db",
        environment="test",
        api_keys=(ApiKey("admin", ADMIN_KEY), ApiKey("agent", AGENT_KEY)),
        **{"rate_limit": "100000/minute", **changes},
    )


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client on ``app``."""
    return app.test_client()
