"""The client address under the real server: gunicorn leaves ``REMOTE_ADDR`` as the peer (no
ProxyFix), so behind a trusted proxy (loopback here, gunicorn's default ``FORWARDED_ALLOW_IPS``)
the failed-authentication limit tells clients apart by the right-most ``X-Forwarded-For``
entry, and a client cannot escape it by sending its own."""

from __future__ import annotations

from pathlib import Path

from tests.ops import procs
from tests.ops.procs import AGENT, call, running

WRONG = {"Authorization": "Bearer not-a-key-of-this-server-000"}


def test_behind_a_trusted_proxy_failures_are_counted_per_forwarded_client(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    env = procs.server_env(
        procs.sqlite_env(tmp_path / "data" / "h.db"),
        # One worker: the counters are each process's own. A day-long window, so that no
        # window boundary falls inside the test.
        GUNICORN_WORKERS="1",
        HEALTH_API_AUTH_FAILURE_LIMIT="2/day",
    )

    def get(headers: dict, client: str) -> int:
        forwarded = {"X-Forwarded-For": client}
        return call(server.port, "GET", "/api/v1/doctors", headers={**headers, **forwarded}).status

    with running(env, tmp_path / "logs") as server:
        failed = [get(WRONG, "198.51.100.7") for _ in range(2)]
        blocked = get(AGENT, "198.51.100.7")
        spoofed = get(AGENT, "192.0.2.1, 198.51.100.7")
        other = get(AGENT, "198.51.100.8")

    assert failed == [401, 401]
    assert (blocked, spoofed) == (429, 429)
    assert other == 200
