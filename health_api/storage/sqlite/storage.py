"""``SqliteStorage``: the embedded backend's entry point, built by ``storage/factory.py``.

``open()`` creates the parent directory and the schema on first use, refuses a file whose schema
is newer than this release, and fails with a ``StorageUnavailableError`` naming the path when the
file cannot be opened, created or written: there is never an in-memory stand-in.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from health_api.domain.errors import StorageUnavailableError
from health_api.storage.sqlite import schema
from health_api.storage.sqlite.connection import DEFAULT_BUSY_TIMEOUT_MS, SqliteDatabase, connect
from health_api.storage.sqlite.doctors import SqliteDoctorRepository
from health_api.storage.sqlite.errors import mapped_errors
from health_api.storage.sqlite.idempotency import SqliteIdempotencyRepository
from health_api.storage.sqlite.sessions import SqliteSessionRepository
from health_api.storage.sqlite.slots import SqliteSlotRepository
from health_api.storage.table_check import TableReport
from health_api.storage.tables import (
    DOCTORES,
    HORARIOS_DOCTORES,
    IDEMPOTENCY_KEYS,
    USER_SESSIONS,
    table_specs,
)


class SqliteStorage:
    """The repositories on one SQLite file, plus readiness and connection lifecycle."""

    def __init__(self, db: SqliteDatabase, settings: Any) -> None:
        self.db = db
        self.specs = table_specs(settings)
        self.doctors = SqliteDoctorRepository(db, self.specs[DOCTORES].name)
        self.slots = SqliteSlotRepository(
            db, self.specs[HORARIOS_DOCTORES].name, self.specs[DOCTORES].name
        )
        self.sessions = SqliteSessionRepository(db, self.specs[USER_SESSIONS].name)
        self.idempotency = SqliteIdempotencyRepository(db, self.specs[IDEMPOTENCY_KEYS].name)

    @classmethod
    def open(
        cls, settings: Any, *, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS
    ) -> SqliteStorage:
        """Open (creating when needed) the file at ``settings.sqlite_path`` and its schema.

        ``busy_timeout_ms`` is how long a write waits for another writer before the request
        fails with ``StorageUnavailableError`` (a 503 with ``Retry-After``).
        """
        path = Path(settings.sqlite_path).expanduser()
        where = f"SQLite database {path}"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageUnavailableError(
                f"{where} cannot be created: its directory {path.parent} is not usable "
                f"({exc.strerror or exc})"
            ) from exc
        if path.is_dir():
            raise StorageUnavailableError(f"{where} cannot be opened: the path is a directory")
        if not os.access(path.parent, os.W_OK):
            # A read-only mount or directory: WAL must create its -wal and -shm files beside
            # the database, so say so now instead of SQLite's "unable to open".
            raise StorageUnavailableError(
                f"{where} cannot be opened for writing: its directory {path.parent} is read-only"
            )
        names = {logical: spec.name for logical, spec in table_specs(settings).items()}
        # Schema set-up uses a connection of its own, closed before returning, so that no
        # connection outlives open() in the calling thread (gunicorn may fork right after).
        with mapped_errors(where):
            conn = connect(path, busy_timeout_ms)
            try:
                schema.ensure_schema(conn, names, where)
            finally:
                conn.close()
        return cls(SqliteDatabase(path, busy_timeout_ms, settings.sqlite_synchronous), settings)

    def check_tables(self) -> list[TableReport]:
        """One report per table spec: exists, ``ACTIVE``, and what differs (key, index, TTL)."""
        with self.db.read() as conn:
            return schema.check_tables(conn, self.specs)

    def check_ready(self) -> list[TableReport]:
        """Readiness: the same report as :meth:`check_tables`, which reads only the file's own
        schema (as cheap as a probe can be; there is no control plane to spare)."""
        with self.db.read() as conn:
            return schema.check_tables(conn, self.specs)

    def end_request(self) -> None:
        """The app's request teardown: the thread keeps its connection for its next request."""
        self.db.end_request()

    def release(self) -> None:
        """Close the calling thread's connection; its next call opens a fresh one."""
        self.db.release()

    def close(self) -> None:
        """Close every connection; the storage is unusable afterwards."""
        self.db.close()

    @property
    def path(self) -> Path:
        """The database file."""
        return self.db.path

    def schema_version(self) -> int:
        """The schema version recorded in the file."""
        with self.db.read() as conn:
            return int(conn.execute("PRAGMA user_version").fetchone()[0])
