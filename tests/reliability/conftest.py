"""Fixtures of the fault-injection tests: the figures report and an app on SQLite with a
short busy timeout."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from health_api import create_app
from health_api.storage.sqlite.storage import SqliteStorage
from tests.api.conftest import storage_settings
from tests.reliability.faults import BUSY_TIMEOUT_MS, FIGURES, seed


@pytest.fixture(scope="module")
def report_figures(request) -> Iterator[None]:
    """Print the measured attempts and wall times once the module has run (shown with -s)."""
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and FIGURES:
        reporter.write_line("")
        for name, figure in FIGURES.items():
            reporter.write_line(f"fault {name}: {figure}")
    FIGURES.clear()  # each module reports its own


@pytest.fixture
def sqlite_app(tmp_path) -> Iterator[Flask]:
    settings = storage_settings("sqlite", tmp_path)
    storage = SqliteStorage.open(settings, busy_timeout_ms=BUSY_TIMEOUT_MS)
    app = create_app({"settings": settings, "storage": storage})
    seed(app.test_client())
    yield app
    storage.close()
