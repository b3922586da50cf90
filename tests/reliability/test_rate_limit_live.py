"""The rate limit on real gunicorn, across its workers: past it a 429 problem with
``Retry-After``; probes are never limited and another key keeps its own budget."""

from __future__ import annotations

from pathlib import Path

from tests.ops import procs
from tests.ops.procs import ADMIN, AGENT
from tests.reliability.hygiene import API, call


def test_past_the_rate_limit_the_real_server_answers_429_with_retry_after(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    env = procs.server_env(
        procs.sqlite_env(tmp_path / "data" / "h.db"), HEALTH_API_RATE_LIMIT="5/minute"
    )
    with procs.running(env, tmp_path / "logs") as limited:
        statuses = []
        limited_response = None
        for _ in range(40):  # the count may be kept per worker: 2 workers x 5, and then some
            response = call(limited.port, "GET", f"{API}/doctors", headers=AGENT)
            statuses.append(response.status)
            if response.status == 429:
                limited_response = response
                break

        assert limited_response is not None, statuses
        assert set(statuses[:-1]) == {200}
        assert 5 <= len(statuses) - 1 <= 10, statuses
        assert limited_response.headers["content-type"] == "application/problem+json"
        assert 0 < int(limited_response.headers["retry-after"]) <= 60
        assert limited_response.body["status"] == 429
        # Probes are never limited; the other key has its own budget.
        assert call(limited.port, "GET", "/healthz").status == 200
        assert call(limited.port, "GET", f"{API}/doctors", headers=ADMIN).status == 200
