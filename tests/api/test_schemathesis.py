"""Property-based conformance: schemathesis drives every operation of the generated document
against the in-process app (SQLite, demo data loaded) and checks each response against it.

Stateless, every built-in check, a bounded and derandomized number of examples per operation,
once with the admin key and once with the agent key (whose admin operations answer 403).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings

from health_api import create_app
from health_api.storage.factory import build_storage
from tests.api.conftest import ADMIN, AGENT, storage_settings

MAX_EXAMPLES = 15
CONFIG = schemathesis.Config.from_dict(
    {
        "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
        "checks": {
            "enabled": True,
            # A schema-valid request may still break a rule no schema can state: a cursor this
            # server did not issue (400), a slot in the past or a rule with no future slot (422).
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "400", "401", "403", "404", "409", "422", "429"]
            },
        },
        # Unknown query parameters are a 400 (API.md), like unknown body fields are a 422: an
        # extra parameter is negative data on every operation.
    }
)
HYPOTHESIS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    # One app per operation serves every example: state carries over between them, by design.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _app(directory: Path, timezone: str = "UTC") -> tuple[Flask, object]:
    app_settings = storage_settings("sqlite", directory, timezone=timezone)
    storage = build_storage(app_settings)
    return create_app({"settings": app_settings, "storage": storage}), storage


def _document() -> dict:
    """The document as the app serves it (read once, at collection, from a throwaway app)."""
    with tempfile.TemporaryDirectory() as directory:
        app, storage = _app(Path(directory))
        try:
            return app.test_client().get("/openapi.json").get_json()
        finally:
            storage.close()


class CurrentApp:
    """A WSGI app that forwards to the running test's app: the schema is built once, at
    collection, and every request (the probes of checks too) goes through ``schema.app``."""

    app: Flask | None = None

    def __call__(self, environ, start_response):
        assert self.app is not None, "use the seeded_app fixture"
        return self.app(environ, start_response)


current = CurrentApp()
schema = schemathesis.openapi.from_dict(_document(), config=CONFIG)
schema.app = current


def _seeded(directory: Path, timezone: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    app, storage = _app(directory, timezone)
    seeded = app.test_client().post("/api/v1/admin/seed", headers=ADMIN)
    assert seeded.status_code == 200, seeded.get_data(as_text=True)
    monkeypatch.setattr(current, "app", app)
    yield app
    storage.close()


@pytest.fixture
def utc_clinic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    """The app on a fresh SQLite file with the demo data set, clinic zone UTC."""
    yield from _seeded(tmp_path, "UTC", monkeypatch)


@pytest.fixture
def madrid_clinic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    """The same in Europe/Madrid, so local renderings and DST-aware parsing are exercised."""
    yield from _seeded(tmp_path, "Europe/Madrid", monkeypatch)


@schema.parametrize()
@HYPOTHESIS
@pytest.mark.usefixtures("utc_clinic")
def test_every_operation_conforms_with_the_admin_key(case) -> None:
    case.call_and_validate(headers=ADMIN)


@schema.parametrize()
@HYPOTHESIS
@pytest.mark.usefixtures("madrid_clinic")
def test_every_operation_conforms_with_the_agent_key(case) -> None:
    case.call_and_validate(headers=AGENT)
