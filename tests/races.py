"""A helper of the race tests: run one action in many threads released together."""

from __future__ import annotations

import threading
from collections.abc import Callable


def race(
    count: int, action: Callable[[int], object], timeout: float = 60
) -> tuple[list[object], list[BaseException]]:
    """Run ``action(n)`` for n in ``range(count)``, each in its own thread, all released by one
    barrier; the results and the errors, in the order they came."""
    barrier = threading.Barrier(count)
    results: list[object] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(n: int) -> None:
        barrier.wait()
        try:
            outcome = action(n)
        except Exception as exc:  # noqa: BLE001 - every outcome is counted by the test
            with lock:
                errors.append(exc)
        else:
            with lock:
                results.append(outcome)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    return results, errors
