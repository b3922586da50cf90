"""The client address rule shared by REST and MCP (API.md v1.2), its setting, and the failure
counter's memory."""

from __future__ import annotations

import pytest

from health_api.clients import AuthFailureLimit, TrustedProxies, client_address
from health_api.config import DEFAULT_FORWARDED_ALLOW_IPS, ConfigError, load_settings

T0 = 1_800_000_000.0  # a minute boundary


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "client"),
    [
        ("203.0.113.9", [], ["127.0.0.1"], "203.0.113.9"),
        ("203.0.113.9", ["198.51.100.7"], ["127.0.0.1"], "203.0.113.9"),
        ("127.0.0.1", [], ["127.0.0.1"], "127.0.0.1"),
        ("127.0.0.1", ["198.51.100.7"], ["127.0.0.1"], "198.51.100.7"),
        ("127.0.0.1", ["192.0.2.1, 198.51.100.7"], ["127.0.0.1"], "198.51.100.7"),
        ("127.0.0.1", ["192.0.2.1", "198.51.100.7"], ["127.0.0.1"], "198.51.100.7"),
        ("10.0.0.2", ["198.51.100.7, 10.9.9.9"], ["10.0.0.0/8"], "198.51.100.7"),
        ("10.0.0.2", ["10.1.1.1, 10.9.9.9"], ["10.0.0.0/8"], "10.1.1.1"),
        ("10.0.0.2", ["198.51.100.7:4711"], ["10.0.0.0/8"], "198.51.100.7"),
        ("::1", ["[2001:db8::7]:443"], ["::1"], "2001:db8::7"),
        ("203.0.113.9", ["192.0.2.1, 198.51.100.7"], ["*"], "192.0.2.1"),
        (None, ["198.51.100.7"], ["*"], "unknown"),
    ],
)
def test_the_client_address(peer, forwarded, trusted, client) -> None:
    assert client_address(peer, forwarded, TrustedProxies(trusted)) == client


def test_gunicorn_and_the_app_trust_the_same_proxies_by_default() -> None:
    assert load_settings({}).forwarded_allow_ips == DEFAULT_FORWARDED_ALLOW_IPS
    assert load_settings({"FORWARDED_ALLOW_IPS": "10.0.0.0/8, *"}).forwarded_allow_ips == (
        "10.0.0.0/8",
        "*",
    )


@pytest.mark.parametrize("value", ["10.0.0.1/8", "proxy.internal"])
def test_a_forwarded_allow_ips_entry_that_is_no_address_is_refused(value) -> None:
    with pytest.raises(ConfigError, match=r"FORWARDED_ALLOW_IPS: .* is not an IP address"):
        load_settings({"FORWARDED_ALLOW_IPS": value})


def test_the_auth_failure_limit_takes_the_rate_syntax() -> None:
    assert load_settings({}).auth_failure_limit == "30/minute"
    with pytest.raises(ConfigError, match="HEALTH_API_AUTH_FAILURE_LIMIT: 'often'"):
        load_settings({"HEALTH_API_AUTH_FAILURE_LIMIT": "often"})


def test_addresses_of_past_windows_are_forgotten() -> None:
    limit = AuthFailureLimit("2/minute")
    for n in range(100):
        limit.failed(f"192.0.2.{n}", T0)

    limit.failed("198.51.100.7", T0 + 60)

    assert list(limit.counter._windows) == ["198.51.100.7"]


def test_the_new_settings_are_read_from_the_toml_file(tmp_path) -> None:
    config = tmp_path / "health.toml"
    config.write_text(
        "[health_api]\n"
        'auth_failure_limit = "10 per minute"\n'
        'forwarded_allow_ips = ["10.0.0.0/8"]\n'
        f'key_id_secret = "{"k" * 32}"\n'
    )

    settings = load_settings({"HEALTH_API_CONFIG": str(config)})

    assert settings.auth_failure_limit == "10 per minute"
    assert settings.forwarded_allow_ips == ("10.0.0.0/8",)
    assert settings.key_id_secret == "k" * 32
    assert "k" * 32 not in repr(settings)
