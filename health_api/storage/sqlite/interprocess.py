"""The writers' turn between processes: an exclusive ``flock`` on a file beside the database.

Each gunicorn worker has its own group-committing writer (``writer.py``). Without this, a worker
that finds the database locked by another waits in SQLite's busy handler, which sleeps 1, 2, 5,
10 ... up to 100 ms between tries; while it sleeps, the other worker commits and starts its next
transaction, so under load one worker's writes waited hundreds of milliseconds (bench/: p99 of
a session PUT over 400 ms) and throughput fell to what one worker could do. Taking this lock
before ``BEGIN IMMEDIATE`` and dropping it after the COMMIT makes the waiting worker try again
within a millisecond of the other's commit, with its own group of writers ready.

The lock only orders writers; SQLite's own locking still guarantees correctness (a process that
does not take it, such as ``python -m health_api seed``, is merely not queued). When the file
cannot be created (a read-only directory), writers go straight to SQLite, which then reports why
it cannot write.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from pathlib import Path

FIRST_PAUSE_S = 0.0002
LONGEST_PAUSE_S = 0.001


class WritersLock:
    """``acquire`` / ``release`` of the inter-process writers' lock on ``path``."""

    def __init__(self, path: Path, timeout_s: float) -> None:
        self.path = path
        self._timeout = timeout_s
        self._fd: int | None = None
        self._unusable = False
        self._held = False

    def acquire(self) -> bool:
        """Wait (at most the timeout) for the lock; False when it could not be had in time.
        True also when the lock file is unusable: SQLite's own locking then decides alone."""
        fd = self._open()
        if fd is None:
            return True
        deadline = time.monotonic() + self._timeout
        pause = FIRST_PAUSE_S
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                # Polled, not blocking: a blocked flock has no timeout, and a writer must
                # give up (503) rather than hang when another process is stuck.
                if time.monotonic() >= deadline:
                    return False
                time.sleep(pause)
                pause = min(pause * 2, LONGEST_PAUSE_S)
                continue
            except OSError:
                return True
            self._held = True
            return True

    def release(self) -> None:
        """Let the next process's writers in (no-op when not held)."""
        if self._held and self._fd is not None:
            self._held = False
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        """Release and close the file (reopened on the next ``acquire``)."""
        self.release()
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)

    def _open(self) -> int | None:
        if self._fd is None and not self._unusable:
            try:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError:
                self._unusable = True
        return self._fd
