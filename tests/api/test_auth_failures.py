"""Failed authentications are limited per client address (API.md v1.2): past
``HEALTH_API_AUTH_FAILURE_LIMIT`` unknown keys, every request from the address is a 429 with
``Retry-After`` until the window ends; the address is the peer's, or behind a trusted proxy
(``FORWARDED_ALLOW_IPS``) the right-most ``X-Forwarded-For`` entry that is not a proxy."""

from __future__ import annotations

import pytest
from freezegun import freeze_time

from health_api import create_app
from health_api.config import load_settings
from tests.api.conftest import AGENT, with_test_keys
from tests.api.helpers import assert_problem

WINDOW_START = "2026-12-03 10:00:00"  # a minute boundary: windows are aligned to the epoch
WRONG = {"Authorization": "Bearer not-a-key-of-this-server-000"}
PROXY = "10.0.0.2"


@pytest.fixture
def client(tmp_path):
    """The app on SQLite allowing 3 failed authentications a minute, behind a proxy in
    10.0.0.0/8."""
    settings = with_test_keys(
        load_settings({}).replace(sqlite_path=tmp_path / "h.db"),
        auth_failure_limit="3/minute",
        forwarded_allow_ips=("10.0.0.0/8",),
    )
    return create_app({"settings": settings}).test_client()


def from_peer(address: str) -> dict:
    return {"environ_base": {"REMOTE_ADDR": address}}


def via_proxy(forwarded_for: str) -> dict:
    return {"environ_base": {"REMOTE_ADDR": PROXY}, "headers": {"X-Forwarded-For": forwarded_for}}


def get(client, headers: dict, where: dict):
    merged = {**where.get("headers", {}), **headers}
    return client.get("/api/v1/doctors", headers=merged, environ_base=where["environ_base"])


def test_past_the_limit_every_request_from_the_address_is_a_429_until_the_window_ends(
    client,
) -> None:
    peer = from_peer("203.0.113.9")
    with freeze_time(WINDOW_START) as frozen:
        failed = [get(client, WRONG, peer).status_code for _ in range(3)]
        frozen.tick(15)
        refused = get(client, AGENT, peer)  # even a valid key
        frozen.tick(45)  # the next window
        served = get(client, AGENT, peer)

    assert failed == [401, 401, 401]
    body = assert_problem(refused, 429)
    assert body["type"] == "/problems/rate-limited"
    assert "failed authentications" in body["detail"]
    assert refused.headers["Retry-After"] == "45"
    assert served.status_code == 200


def test_another_address_is_still_served(client) -> None:
    with freeze_time(WINDOW_START):
        for _ in range(3):
            get(client, WRONG, from_peer("203.0.113.9"))
        blocked = get(client, AGENT, from_peer("203.0.113.9"))
        other = get(client, AGENT, from_peer("203.0.113.10"))

    assert blocked.status_code == 429
    assert other.status_code == 200


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-API-Key": "some-key-0123456789abcdef"}, {"Authorization": "Basic dXNlcjpwYXNz"}],
    ids=["no-header", "x-api-key", "basic"],
)
def test_only_a_checked_unknown_key_counts_as_a_failure(client, headers) -> None:
    with freeze_time(WINDOW_START):
        statuses = {get(client, headers, from_peer("203.0.113.9")).status_code for _ in range(6)}
        after = get(client, AGENT, from_peer("203.0.113.9"))

    assert statuses == {401}
    assert after.status_code == 200


def test_probes_and_documents_are_not_refused(client) -> None:
    with freeze_time(WINDOW_START):
        for _ in range(3):
            get(client, WRONG, from_peer("203.0.113.9"))
        probe = client.get("/healthz", environ_base={"REMOTE_ADDR": "203.0.113.9"})

    assert probe.status_code == 200


def test_behind_a_trusted_proxy_clients_are_told_apart_by_x_forwarded_for(client) -> None:
    with freeze_time(WINDOW_START):
        for _ in range(3):
            get(client, WRONG, via_proxy("198.51.100.7"))
        blocked = get(client, AGENT, via_proxy("198.51.100.7"))
        # What the client itself sends is to the left of what the proxy appended: ignored.
        spoofed = get(client, AGENT, via_proxy("192.0.2.1, 198.51.100.7"))
        # A chain of trusted proxies: the right-most entry that is not one of them.
        chained = get(client, AGENT, via_proxy("198.51.100.7, 10.1.2.3"))
        other = get(client, AGENT, via_proxy("198.51.100.8"))

    assert (blocked.status_code, spoofed.status_code, chained.status_code) == (429, 429, 429)
    assert other.status_code == 200


def test_an_untrusted_peer_is_the_client_whatever_x_forwarded_for_says(client) -> None:
    peer = "203.0.113.9"
    with freeze_time(WINDOW_START):
        for n in range(3):
            get(client, {**WRONG, "X-Forwarded-For": f"192.0.2.{n}"}, from_peer(peer))
        refused = get(client, {**AGENT, "X-Forwarded-For": "192.0.2.99"}, from_peer(peer))

    assert refused.status_code == 429
