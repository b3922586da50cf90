"""Per-thread SQLite connections, write transactions, and the mapping of sqlite3 errors.

Each thread (a request under gunicorn's sync or threaded workers) lazily opens its own
connection and keeps it for the thread's next requests: ``end_request()`` on request teardown
only checks that no transaction was left open. Opening a connection per request cost more than
the request's own query (the file open, four PRAGMAs, and a WAL checkpoint with an fsync each
time the last connection of the process closed: see ``bench/``). A connection that failed is
never reused: a storage error closes it, and ``release()`` closes it on demand. Every connection
runs in
WAL mode (readers never block the one writer) with a busy timeout so that writers in other
processes wait their turn instead of failing at once, and ``synchronous=FULL`` by default: a
committed write is on disk before the commit returns, so an acknowledged write survives kill -9
and power loss. ``synchronous=NORMAL`` (``HEALTH_API_SQLITE_SYNCHRONOUS=normal``) leaves out that
fsync: a commit is in the operating system's cache when it returns, which survives kill -9 of
the server but not a power loss or an OS crash, where the last commits can be lost (never the
file's integrity). On this project's benchmark machine the fsync is most of a booking's cost.

Writes run in ``BEGIN IMMEDIATE`` transactions: the write lock is taken up front, so a
transaction never has to upgrade a read lock half-way (which SQLite answers with an immediate
SQLITE_BUSY, busy timeout or not), and the conditions it reads cannot change before it writes.
That is what makes ``UPDATE ... WHERE estado = 'disponible'`` a faithful conditional write across
threads and processes.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from health_api.domain.errors import StorageUnavailableError

from .errors import mapped_errors
from .interprocess import WritersLock
from .writer import GroupWriter

DEFAULT_BUSY_TIMEOUT_MS = 5000
SYNCHRONOUS_MODES = {"full": "FULL", "normal": "NORMAL"}


def connect(
    path: Path,
    busy_timeout_ms: int,
    trace: Callable[[str], None] | None = None,
    synchronous: str = "full",
) -> sqlite3.Connection:
    """Open one configured connection (raises sqlite3 errors; callers map them); ``trace``
    sees every statement it runs, its set-up PRAGMAs included; ``synchronous`` is ``full``
    or ``normal`` (see the module docstring)."""
    mode = SYNCHRONOUS_MODES[synchronous]
    conn = sqlite3.connect(
        str(path),
        timeout=busy_timeout_ms / 1000,
        # Autocommit mode: this module issues BEGIN IMMEDIATE/COMMIT itself, never the driver.
        isolation_level=None,
        # close() may run on another thread than the one that opened the connection; each
        # connection is still used by one thread at a time.
        check_same_thread=False,
    )
    try:
        if trace is not None:
            conn.set_trace_callback(trace)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        journal = _enable_wal(conn, busy_timeout_ms)
        if journal != "wal":
            # WAL needs shared memory; without it durability and concurrency claims do not hold.
            raise sqlite3.OperationalError(f"cannot enable WAL mode (journal_mode={journal})")
        conn.execute(f"PRAGMA synchronous = {mode}")
        conn.execute("PRAGMA foreign_keys = ON")
    except BaseException:
        conn.close()
        raise
    return conn


def _enable_wal(conn: sqlite3.Connection, busy_timeout_ms: int) -> str:
    """Switch the file to WAL (a no-op once it is) and return the journal mode in force."""
    deadline = time.monotonic() + busy_timeout_ms / 1000
    while True:
        try:
            return str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]).lower()
        except sqlite3.OperationalError as exc:
            # The switch takes an exclusive lock without calling the busy handler, so workers
            # opening a new file together collide here: wait for the winner like any writer.
            busy = getattr(exc, "sqlite_errorname", "").startswith(("SQLITE_BUSY", "SQLITE_LOCKED"))
            if not busy or time.monotonic() >= deadline:
                raise
            time.sleep(0.01)


class SqliteDatabase:
    """The file, its per-thread connections, and the transaction helpers repositories use."""

    def __init__(
        self,
        path: Path,
        busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
        synchronous: str = "full",
    ) -> None:
        self.path = path
        self.busy_timeout_ms = busy_timeout_ms
        self.synchronous = synchronous
        self._closed = False
        self._trace: Callable[[str], None] | None = None
        self._reset_after_fork()

    def _reset_after_fork(self) -> None:
        # A connection must never cross a fork (gunicorn --preload): a child forgets the
        # parent's connections without closing them, which would disturb the parent's locks.
        self._pid = os.getpid()
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: dict[threading.Thread, sqlite3.Connection] = {}
        # This process's writers queue here rather than in SQLite's busy handler, which polls
        # the file lock with sleeps of up to 100 ms (hundreds of ms of tail latency for writes
        # under load), and share their commits; other processes' writers queue on a lock file
        # (interprocess.py), and anything else still meets SQLite's own lock.
        self._writer = GroupWriter(
            lambda: connect(self.path, self.busy_timeout_ms, self._trace, self.synchronous),
            self.busy_timeout_ms / 1000,
            WritersLock(Path(f"{self.path}-lock"), self.busy_timeout_ms / 1000),
        )

    def connection(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use."""
        if self._closed:
            raise StorageUnavailableError("the SQLite storage has been closed")
        if self._pid != os.getpid():
            self._reset_after_fork()
        conn = getattr(self._local, "conn", None)
        if conn is None:
            with mapped_errors():
                conn = connect(self.path, self.busy_timeout_ms, self._trace, self.synchronous)
            self._local.conn = conn
            with self._lock:
                self._forget_dead_threads()
                self._open[threading.current_thread()] = conn
        return conn

    def set_trace(self, callback: Callable[[str], None] | None) -> None:
        """Call ``callback`` with the text of every statement run on this database's
        connections, open or opened later (the benchmark counts storage calls with it);
        None stops it. Only observes: nothing about how statements run changes."""
        self._trace = callback
        with self._lock:
            for conn in self._open.values():
                conn.set_trace_callback(callback)
        self._writer.set_trace(callback)

    def _forget_dead_threads(self) -> None:
        # Threads that ended without release() would otherwise keep their connection forever.
        for thread in [t for t in self._open if not t.is_alive()]:
            self._open.pop(thread).close()

    def end_request(self) -> None:
        """A request of this thread ended: keep its connection for the next one, unless a
        transaction was left open (never expected: ``write()`` always ends its own), in which
        case the connection is closed, which rolls the transaction back."""
        conn = getattr(self._local, "conn", None)
        if conn is not None and (self._pid != os.getpid() or conn.in_transaction):
            self.release()

    def release(self) -> None:
        """Close this thread's connection, and the writer connection when no write is under
        way; the next call opens a fresh one (no file of the store is then held open)."""
        if self._pid != os.getpid():
            self._reset_after_fork()
            return
        self._writer.close_if_idle()
        conn = getattr(self._local, "conn", None)
        if conn is None:
            return
        self._local.conn = None
        with self._lock:
            self._open.pop(threading.current_thread(), None)
        conn.close()

    def close(self) -> None:
        """Close every connection this process opened; the object is unusable afterwards."""
        self._closed = True
        if self._pid != os.getpid():
            self._reset_after_fork()
            return
        with self._lock:
            connections, self._open = list(self._open.values()), {}
        self._local = threading.local()
        self._writer.close()
        for conn in connections:
            conn.close()

    @contextlib.contextmanager
    def _discarded_on_failure(self) -> Iterator[None]:
        # After a storage failure (I/O, disk full, read-only, corruption) the connection's
        # state is unknown: close it, so that the next call starts from a fresh one.
        try:
            yield
        except StorageUnavailableError:
            self.release()
            raise

    @contextlib.contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A connection for reads; each statement sees one consistent snapshot (WAL)."""
        with self._discarded_on_failure(), mapped_errors():
            yield self.connection()

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction for one block: its writes are committed when the block ends
        and this returns, or rolled back when it raises (a domain error from a failed
        condition, or a storage error). The process's writers share their commits (see
        ``writer.py``): one fsync for every write that was waiting for it."""
        if self._closed:
            raise StorageUnavailableError("the SQLite storage has been closed")
        if self._pid != os.getpid():
            self._reset_after_fork()
        with self._writer.transaction() as conn:
            yield conn
