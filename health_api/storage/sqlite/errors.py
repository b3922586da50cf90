"""sqlite3 failures as domain errors: what a client may be told, and what it may retry."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator

from health_api.domain.errors import InvalidRequestError, StorageUnavailableError


def unavailable(exc: sqlite3.Error, where: str = "the database") -> StorageUnavailableError:
    """The domain error for a sqlite3 failure; ``where`` names the file at start-up only
    (runtime messages may reach clients, so they carry no path and no SQLite text)."""
    code = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc).lower()
    if code.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in text or "busy" in text:
        return StorageUnavailableError(
            f"{where} is busy: another writer held it past the busy timeout; try again",
            retry_after=1,
        )
    if code.startswith("SQLITE_READONLY") or "readonly" in text:
        return StorageUnavailableError(f"{where} is read-only: writes are impossible")
    if code.startswith("SQLITE_FULL") or "full" in text:
        return StorageUnavailableError(f"{where}: the disk is full", retry_after=30)
    if code.startswith("SQLITE_IOERR") or "i/o" in text:
        return StorageUnavailableError(f"{where}: disk I/O error", retry_after=5)
    if code.startswith("SQLITE_CANTOPEN") or "unable to open" in text:
        return StorageUnavailableError(f"{where} cannot be opened or created")
    if code.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or "not a database" in text:
        return StorageUnavailableError(f"{where} is damaged or is not a SQLite database")
    return StorageUnavailableError(f"{where} failed ({code or type(exc).__name__})")


@contextlib.contextmanager
def mapped_errors(where: str = "the database") -> Iterator[None]:
    """Turn sqlite3 exceptions into domain errors; programming errors stay as they are."""
    try:
        yield
    except (sqlite3.ProgrammingError, sqlite3.InterfaceError):
        raise  # a bug in this package, not a storage condition: let it show as one
    except sqlite3.IntegrityError as exc:
        # Only CHECK/NOT NULL constraints can fire (key conflicts use ON CONFLICT DO NOTHING).
        raise InvalidRequestError("the data breaks a storage constraint") from exc
    except sqlite3.Error as exc:
        raise unavailable(exc, where) from exc
