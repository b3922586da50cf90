"""Group commit: the write transactions of one process share a connection and its commits.

With ``synchronous=FULL`` every COMMIT waits for an fsync of the WAL (about 0.7 ms here, three
times the CPU of a booking), and SQLite has one writer at a time, so committing each write on
its own caps a process at roughly one write per fsync however many threads it serves. Instead,
the writers of a process take turns on one connection inside one ``BEGIN IMMEDIATE``
transaction, each after the first in its own SAVEPOINT, and the transaction commits when no
other writer is waiting for its turn (or when the group is full): one fsync makes the whole
group durable.

What each writer sees and is told is unchanged:
- a writer's block runs alone, after the earlier members of its group, and reads their writes:
  the same serial order as one transaction after another;
- a block that raises (a failed condition: a domain error) is rolled back alone (to its
  savepoint, or the whole transaction when it is the first); the others' writes stand;
- nobody is answered before the COMMIT that makes their outcome durable has returned: a writer
  waits for its group's commit, and if that commit fails, every member of the group gets the
  storage error, including one whose block raised a domain error (its outcome was decided on
  writes that are now lost);
- a storage fault inside any block rolls the whole group back and fails every member.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable, Iterator

from health_api.domain.errors import StorageUnavailableError

from .errors import mapped_errors, unavailable
from .interprocess import WritersLock

MAX_GROUP = 64  # members per commit: bounds how long the first one waits for the fsync


class _Group:
    """The members of one transaction and, once it ended, its outcome."""

    def __init__(self) -> None:
        self.members = 0
        self.done = threading.Event()
        self.error: StorageUnavailableError | None = None

    def end(self, error: StorageUnavailableError | None) -> None:
        self.error = error
        self.done.set()


class GroupWriter:
    """One process's writer connection and its group commits."""

    def __init__(
        self,
        connect: Callable[[], sqlite3.Connection],
        timeout_s: float,
        writers_lock: WritersLock | None = None,
    ) -> None:
        self._connect = connect
        self._between_processes = writers_lock
        self._timeout = timeout_s
        self._turn = threading.Lock()  # held while a block, or a commit, runs
        self._count = threading.Lock()  # guards _waiting
        self._waiting = 0  # writers queued for _turn: while any are, the group stays open
        self._conn: sqlite3.Connection | None = None
        self._group: _Group | None = None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """The writer connection inside a transaction, for one block; returns once the block's
        writes are committed (or raises the reason they are not)."""
        conn, group, first = self._join()
        try:
            with mapped_errors():
                yield conn
        except StorageUnavailableError as exc:
            self._fail(group, exc)
            self._turn.release()
            raise
        except BaseException:
            self._leave(conn, group, kept=False, first=first)
            self._await(group)  # the group's failure outranks this block's own outcome
            raise
        self._leave(conn, group, kept=True, first=first)
        self._await(group)

    def set_trace(self, callback: Callable[[str], None] | None) -> None:
        """Pass ``callback`` every statement the writer connection runs (see
        ``SqliteDatabase.set_trace``)."""
        with self._turn:
            if self._conn is not None:
                self._conn.set_trace_callback(callback)

    def close(self) -> None:
        """Close the writer connection (no transaction may be open)."""
        with self._turn:
            self._drop()

    def close_if_idle(self) -> None:
        """Close the writer connection unless a write holds it (never waits: the caller may be
        inside a write block itself)."""
        if self._turn.acquire(blocking=False):
            try:
                if self._group is None:
                    self._drop()
            finally:
                self._turn.release()

    def _join(self) -> tuple[sqlite3.Connection, _Group, bool]:
        """Wait for the turn; join the open transaction (in a savepoint) or begin one, in
        which case the block is the whole transaction so far and needs no savepoint."""
        with self._count:
            self._waiting += 1
        acquired = self._turn.acquire(timeout=self._timeout)
        with self._count:
            self._waiting -= 1
        if not acquired:
            raise unavailable(sqlite3.OperationalError("database is locked"))
        try:
            with mapped_errors():
                if self._conn is None:
                    self._conn = self._connect()
                first = self._group is None
                if first:
                    if self._between_processes and not self._between_processes.acquire():
                        raise unavailable(sqlite3.OperationalError("database is locked"))
                    self._conn.execute("BEGIN IMMEDIATE")
                    self._group = _Group()
                else:
                    self._conn.execute("SAVEPOINT member")
        except StorageUnavailableError as exc:
            self._fail(self._group, exc)
            self._turn.release()
            raise
        except BaseException:
            self._turn.release()
            raise
        return self._conn, self._group, first

    def _leave(self, conn: sqlite3.Connection, group: _Group, kept: bool, first: bool) -> None:
        """End this member's block, commit the group when nobody waits to join it, and pass
        the turn on."""
        try:
            if first and not kept:
                # Nothing but this block is in the transaction: end it.
                with mapped_errors():
                    conn.execute("ROLLBACK")
                self._end(group, None)
                return
            if not first:
                with mapped_errors():
                    if not kept:
                        conn.execute("ROLLBACK TO member")
                    conn.execute("RELEASE member")
            if kept:
                group.members += 1
            with self._count:
                last = self._waiting == 0
            if last or group.members >= MAX_GROUP:
                self._commit(conn, group)
        except StorageUnavailableError as exc:
            self._fail(group, exc)
        finally:
            self._turn.release()

    def _commit(self, conn: sqlite3.Connection, group: _Group) -> None:
        with mapped_errors():
            conn.execute("COMMIT")
        self._end(group, None)

    def _fail(self, group: _Group | None, error: StorageUnavailableError) -> None:
        """A storage fault (the turn is held): roll everything back, fail the group, and start
        the next one on a fresh connection."""
        self._drop()
        self._end(group, error)

    def _end(self, group: _Group | None, error: StorageUnavailableError | None) -> None:
        self._group = None
        if self._between_processes:
            self._between_processes.release()
        if group is not None:
            group.end(error)

    def _drop(self) -> None:
        if self._between_processes:
            self._between_processes.close()
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(sqlite3.Error):
                conn.close()  # closing rolls back whatever is still open

    def _await(self, group: _Group) -> None:
        while not group.done.wait(self._timeout):
            # The writer expected to follow gave up before its turn (it timed out): whoever
            # gets the turn next commits the group, so nobody waits on a writer that left.
            if self._turn.acquire(timeout=self._timeout):
                try:
                    if self._group is group and self._conn is not None:
                        try:
                            self._commit(self._conn, group)
                        except StorageUnavailableError as exc:
                            self._fail(group, exc)
                finally:
                    self._turn.release()
        if group.error is not None:
            raise StorageUnavailableError(str(group.error), retry_after=group.error.retry_after)
