"""The patient-token settings are checked when the settings load: each bad value stops
start-up with one line naming the variable (never echoing a secret)."""

from __future__ import annotations

import pytest

from health_api.config import ConfigError, load_settings

SECRET = "s" * 32


def _refusal(environ: dict[str, str]) -> str:
    with pytest.raises(ConfigError) as refused:
        load_settings(environ)
    message = str(refused.value)
    assert "\n" not in message
    return message


def test_the_defaults_are_valid() -> None:
    settings = load_settings({})

    assert (settings.agent_access, settings.token_max_ttl_seconds) == ("all", 3600)
    assert (settings.token_issuer, settings.token_audience) == ("health-api", "health-api")
    assert settings.token_trusted_issuers == ()


@pytest.mark.parametrize("value", ["all", "public", "PUBLIC"])
def test_agent_access_is_all_or_public(value) -> None:
    assert load_settings({"HEALTH_API_AGENT_ACCESS": value}).agent_access == value.lower()


def test_another_agent_access_is_refused() -> None:
    assert _refusal({"HEALTH_API_AGENT_ACCESS": "private"}).startswith(
        "HEALTH_API_AGENT_ACCESS: must be one of all, public"
    )


@pytest.mark.parametrize("value", ["60", "86400"])
def test_the_maximum_lifetime_may_be_a_minute_to_a_day(value) -> None:
    assert load_settings({"HEALTH_API_TOKEN_MAX_TTL_SECONDS": value}).token_max_ttl_seconds == int(
        value
    )


@pytest.mark.parametrize("value", ["59", "86401", "0", "-5"])
def test_a_maximum_lifetime_out_of_range_is_refused(value) -> None:
    assert _refusal({"HEALTH_API_TOKEN_MAX_TTL_SECONDS": value}).startswith(
        "HEALTH_API_TOKEN_MAX_TTL_SECONDS: must be between 60 and 86400 seconds"
    )


def test_a_short_hs256_secret_is_refused_without_echoing_it() -> None:
    message = _refusal(
        {"HEALTH_API_TOKEN_HS256_SECRET": "short-secret", "HEALTH_API_TOKEN_HS256_ISSUER": "bot"}
    )

    assert message.startswith("HEALTH_API_TOKEN_HS256_SECRET: must be at least 32 bytes")
    assert "short-secret" not in message


def test_an_hs256_secret_needs_its_issuer() -> None:
    assert _refusal({"HEALTH_API_TOKEN_HS256_SECRET": SECRET}).startswith(
        "HEALTH_API_TOKEN_HS256_ISSUER: required with HEALTH_API_TOKEN_HS256_SECRET"
    )


def test_the_hs256_issuer_must_not_be_this_services_issuer() -> None:
    message = _refusal(
        {
            "HEALTH_API_TOKEN_HS256_SECRET": SECRET,
            "HEALTH_API_TOKEN_HS256_ISSUER": "clinic",
            "HEALTH_API_TOKEN_ISSUER": "clinic",
        }
    )

    assert message.startswith(
        "HEALTH_API_TOKEN_HS256_ISSUER: must differ from HEALTH_API_TOKEN_ISSUER"
    )


def test_an_hs256_issuer_with_its_secret_is_accepted() -> None:
    settings = load_settings(
        {"HEALTH_API_TOKEN_HS256_SECRET": SECRET, "HEALTH_API_TOKEN_HS256_ISSUER": "chatbot"}
    )

    assert settings.token_hs256_issuer == "chatbot"


def test_trusted_issuers_are_prefix_url_pairs() -> None:
    settings = load_settings(
        {
            "ENVIRONMENT": "production",
            "HEALTH_API_TOKEN_TRUSTED_ISSUERS": "google=https://accounts.google.com, "
            "clinic=https://id.clinic.example/realms/p",
        }
    )

    assert settings.token_trusted_issuers == (
        ("google", "https://accounts.google.com"),
        ("clinic", "https://id.clinic.example/realms/p"),
    )


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("goo:gle=https://a.example", "the prefix 'goo:gle' must be"),
        ("goo gle=https://a.example", "the prefix 'goo gle' must be"),
        ("gööle=https://a.example", "the prefix 'gööle' must be"),
        ("g=https://a.example,g=https://b.example", "the prefix 'g' names two issuers"),
        ("g=ftp://a.example", "the issuer of 'g' must be an http(s) URL"),
        ("g=https://a.example,oops", "expected comma-separated prefix=https://issuer pairs"),
        ("g=http://a.example", "the issuer of 'g' must be an https:// URL outside development"),
        ("g=https://x.example,h=health-api", "must be an http(s) URL"),
    ],
)
def test_a_bad_trusted_issuer_is_refused(value, says) -> None:
    message = _refusal({"ENVIRONMENT": "production", "HEALTH_API_TOKEN_TRUSTED_ISSUERS": value})

    assert message.startswith("HEALTH_API_TOKEN_TRUSTED_ISSUERS: ")
    assert says in message


def test_an_external_issuer_may_not_take_this_services_issuer_name() -> None:
    message = _refusal(
        {
            "HEALTH_API_TOKEN_ISSUER": "https://clinic.example",
            "HEALTH_API_TOKEN_TRUSTED_ISSUERS": "c=https://clinic.example",
        }
    )

    assert "an external issuer has the name of this service's issuer" in message


def test_a_plain_http_issuer_is_accepted_in_development_only() -> None:
    value = {"HEALTH_API_TOKEN_TRUSTED_ISSUERS": "dev=http://127.0.0.1:9000"}

    assert load_settings(value).token_trusted_issuers == (("dev", "http://127.0.0.1:9000"),)
    assert "https:// URL outside development (ENVIRONMENT=staging)" in _refusal(
        {**value, "ENVIRONMENT": "staging"}
    )


@pytest.mark.parametrize("value", ["mcp.example/mcp", "ftp://mcp.example", "https://"])
def test_the_mcp_public_url_must_be_an_http_url(value) -> None:
    assert _refusal({"HEALTH_API_MCP_PUBLIC_URL": value}).startswith(
        "HEALTH_API_MCP_PUBLIC_URL: must be an http:// or https:// URL"
    )


def test_the_mcp_public_url_is_kept() -> None:
    url = "https://mcp.clinic.example/mcp"

    assert load_settings({"HEALTH_API_MCP_PUBLIC_URL": url}).mcp_public_url == url


def test_token_settings_come_from_toml_with_trusted_issuers_as_a_table(tmp_path) -> None:
    config = tmp_path / "health.toml"
    config.write_text(
        '[health_api]\nenvironment = "production"\nagent_access = "public"\n'
        "token_max_ttl_seconds = 600\n"
        'token_hs256_secret = "' + SECRET + '"\ntoken_hs256_issuer = "chatbot"\n'
        'mcp_public_url = "https://mcp.example/mcp"\n'
        "[health_api.token_trusted_issuers]\n"
        'google = "https://accounts.google.com"\nclinic = "https://id.clinic.example"\n'
    )

    settings = load_settings({"HEALTH_API_CONFIG": str(config)})

    assert settings.agent_access == "public"
    assert settings.token_max_ttl_seconds == 600
    assert settings.token_hs256_issuer == "chatbot"
    assert settings.mcp_public_url == "https://mcp.example/mcp"
    assert settings.token_trusted_issuers == (
        ("google", "https://accounts.google.com"),
        ("clinic", "https://id.clinic.example"),
    )


def test_a_bad_toml_value_names_the_setting_and_the_file(tmp_path) -> None:
    config = tmp_path / "health.toml"
    config.write_text(
        'environment = "production"\n[token_trusted_issuers]\n"a:b" = "https://x.example"\n'
    )

    message = _refusal({"HEALTH_API_CONFIG": str(config)})

    assert message.startswith(f"token_trusted_issuers in {config}: the prefix 'a:b'")
