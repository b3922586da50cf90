"""The process's bounded thread pool for independent DynamoDB calls of one request.

Each read is a network round trip that releases the GIL while it waits, so reads that do not
depend on each other (one Query per doctor of a specialty) run side by side: one round trip of
wall time instead of one per read. The pool is created lazily and once per process: a gunicorn
worker forked from a parent that already had one gets its own (threads do not survive a fork).
The same pool runs the independent conditional deletes of a doctor deletion step.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

# Shared by every request thread of the process: 8 pool threads plus gunicorn's 8 request
# threads stay within the client's 32 connections, so no read waits for a socket.
POOL_SIZE = 8

_pool: ThreadPoolExecutor | None = None
_pool_pid: int | None = None
_pool_lock = threading.Lock()


def executor() -> ThreadPoolExecutor:
    """The process's pool, created on first use and again in a forked child."""
    global _pool, _pool_pid  # one pool per process, rebuilt after a fork
    with _pool_lock:
        if _pool is None or _pool_pid != os.getpid():
            _pool = ThreadPoolExecutor(max_workers=POOL_SIZE, thread_name_prefix="dynamodb-read")
            _pool_pid = os.getpid()
        return _pool


def map_reads(read: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """``[read(item) for item in items]``, in order, run on the pool when there is more than
    one (a single read skips the thread hand-off). The first exception raised is re-raised."""
    if len(items) <= 1:
        return [read(item) for item in items]
    return list(executor().map(read, items))


def map_calls(send: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """``[send(item) for item in items]`` on the pool, as :func:`map_reads`, for independent
    writes (each its own conditional request): the pool bounds how many run at once."""
    return map_reads(send, items)
