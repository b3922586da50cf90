"""Build the configured storage backend: the one place (with ``create_app``) that names one.

A backend that cannot be opened or reached raises ``StorageUnavailableError`` with a clear
message; there is never a silent switch to the other backend, nor an in-memory stand-in.
"""

from __future__ import annotations

from typing import Any

from health_api.storage.base import Storage


def build_storage(settings: Any) -> Storage:
    """The backend named by ``settings.storage`` (``sqlite`` or ``dynamodb``), ready to use."""
    if settings.storage == "sqlite":
        from health_api.storage.sqlite.storage import SqliteStorage

        return SqliteStorage.open(settings)
    if settings.storage == "dynamodb":
        from health_api.storage.dynamodb.storage import DynamoStorage

        return DynamoStorage.open(settings)
    raise ValueError(f"unknown storage backend {settings.storage!r}")
