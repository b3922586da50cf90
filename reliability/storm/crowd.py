"""Many clients at one instant: threads released together by a barrier, a checker thread
watching meanwhile, and which worker processes served them (read from /proc)."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable

from tests.ops.procs import TCP_ESTABLISHED, Gunicorn, tcp_entries


def released_together(count: int, work: Callable[[int, threading.Barrier], None]) -> None:
    """Run ``work(n, barrier)`` on ``count`` threads that share one barrier; wait for all."""
    barrier = threading.Barrier(count)
    threads = [
        threading.Thread(target=work, args=(n, barrier), name=f"storm-{n}") for n in range(count)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    if any(thread.is_alive() for thread in threads):
        raise AssertionError("a client thread hung")


def checked_while(
    checker: Callable[[], None],
    done: threading.Event,
    name: str,
    count: int,
    work: Callable[[int, threading.Barrier], None],
) -> float:
    """Run ``work`` on ``count`` threads (``released_together``) while ``checker`` watches
    from its own thread; set ``done`` to stop it; the seconds the storm took."""
    check_thread = threading.Thread(target=checker, name=name)
    started = time.monotonic()
    check_thread.start()
    try:
        released_together(count, work)
    finally:
        done.set()
        check_thread.join(timeout=60)
    return time.monotonic() - started


def connections_per_worker(server: Gunicorn) -> list[int]:
    """How many established client connections each worker process holds right now (read
    from /proc): the proof that a storm's requests were served by several processes."""
    inodes = {
        inode
        for local, _, state, _, inode in tcp_entries()
        if local == server.port and state == TCP_ESTABLISHED
    }
    counts = []
    for pid in server.worker_pids():
        count = 0
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                    if target.startswith("socket:[") and int(target[8:-1]) in inodes:
                        count += 1
        counts.append(count)
    return sorted(counts, reverse=True)
