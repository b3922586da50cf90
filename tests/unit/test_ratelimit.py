"""The per-key fixed-window limiter behind HEALTH_API_RATE_LIMIT."""

from __future__ import annotations

import threading

import pytest

from health_api.ratelimit import FixedWindowLimiter

T0 = 1_800_000_000.0  # a minute boundary: 30_000_000 whole minutes since the epoch


def test_a_key_gets_its_amount_per_window_then_waits_for_the_next() -> None:
    limiter = FixedWindowLimiter("3/minute")

    allowed = [limiter.hit("k", T0 + s) for s in (0, 10, 20)]
    refused = limiter.hit("k", T0 + 45)

    assert allowed == [None, None, None]
    assert refused == pytest.approx(15.0)
    assert limiter.hit("k", T0 + 60) is None  # a new window


def test_keys_are_counted_apart() -> None:
    limiter = FixedWindowLimiter("1 per second")

    assert limiter.hit("a", T0) is None
    assert limiter.hit("b", T0) is None
    assert limiter.hit("a", T0 + 0.5) == pytest.approx(0.5)


def test_concurrent_hits_never_exceed_the_amount() -> None:
    limiter = FixedWindowLimiter("500/hour")
    results: list[float | None] = []
    lock = threading.Lock()

    def hammer() -> None:
        for _ in range(100):
            outcome = limiter.hit("k", T0 + 1)
            with lock:
                results.append(outcome)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results.count(None) == 500
    assert len(results) == 800
