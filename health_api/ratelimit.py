"""Per-key fixed-window request counting, in this worker's memory (REST and MCP servers alike).

The rate is parsed by the ``limits`` library (``600/minute``, ``10 per second``: the syntax
flask-limiter users know); the counting is this small class. ``limits``' own in-memory storage
starts a new timer thread about every 10 ms under load to expire its counters, which py-spy
showed costing several per cent of a simple GET on gunicorn; a fixed window needs no expiry
thread: a counter from an earlier window is simply replaced.

The counters are a guard against a runaway client, not patient data: they live in each worker's
memory, so with N workers the ceiling is up to N times the rate, and a restart forgets them.
Keys are the hashes of authenticated API keys, so the table holds one entry per configured key;
the limit of failed authentications (``clients.py``) counts client addresses with the same class,
and entries of past windows are dropped when a new window begins.
"""

from __future__ import annotations

import threading

from limits import parse as parse_rate


class FixedWindowLimiter:
    """At most ``amount`` hits per key in each window of ``period`` seconds (windows aligned to
    the epoch)."""

    def __init__(self, rate: str) -> None:
        item = parse_rate(rate)
        self.rate = rate
        self.amount = item.amount
        self.period = item.get_expiry()
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[int, int]] = {}  # key -> (window number, hits in it)
        self._current = 0  # the latest window seen: older entries are dropped when it moves

    def hit(self, key: str, now: float) -> float | None:
        """Count a request of ``key`` at ``now`` (epoch seconds): None when it is allowed, else
        the seconds until the window that refused it ends."""
        window = int(now // self.period)
        with self._lock:
            if window > self._current:
                self._forget_before(window)
            seen, hits = self._windows.get(key, (window, 0))
            if seen != window:
                hits = 0
            if hits >= self.amount:
                return (window + 1) * self.period - now
            self._windows[key] = (window, hits + 1)
        return None

    def waiting(self, key: str, now: float) -> float | None:
        """Without counting: the seconds until ``key`` may be served again when its window is
        spent, else None."""
        window = int(now // self.period)
        with self._lock:
            seen, hits = self._windows.get(key, (window, 0))
        if seen == window and hits >= self.amount:
            return (window + 1) * self.period - now
        return None

    def _forget_before(self, window: int) -> None:
        # Called under the lock, once per window, so the table never outgrows one window's keys
        # (client addresses, for the failure limit, are many and short-lived).
        self._current = window
        self._windows = {k: v for k, v in self._windows.items() if v[0] >= window}
