"""Fixtures for the SQLite-only tests: settings on a temp file, and stores opened on them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from health_api.config import Settings, load_settings
from health_api.storage.sqlite.storage import SqliteStorage


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """SQLite settings on a fresh file, with a table prefix so that names need quoting."""
    return load_settings({}).replace(
        storage="sqlite", sqlite_path=tmp_path / "data" / "health.db", table_prefix="clinic-"
    )


@pytest.fixture
def open_store(settings: Settings) -> Iterator[Callable[..., SqliteStorage]]:
    """Open stores on ``settings`` (keyword arguments go to ``SqliteStorage.open``); all are
    closed at the end of the test."""
    opened: list[SqliteStorage] = []

    def open_(**options) -> SqliteStorage:
        store = SqliteStorage.open(settings, **options)
        opened.append(store)
        return store

    yield open_
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: Callable[..., SqliteStorage]) -> SqliteStorage:
    """A store on a fresh file."""
    return open_store()
