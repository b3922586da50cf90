"""Settings: defaults, environment, TOML file, and one-line errors that name the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from health_api.config import ApiKey, ConfigError, load_settings
from health_api.storage.tables import table_specs

GOOD_KEY = "k" * 16


def test_defaults_match_the_design() -> None:
    settings = load_settings({})

    assert settings.storage == "sqlite"
    assert settings.sqlite_path == Path("./data/health_api.db")
    assert settings.sqlite_synchronous == "full"
    assert settings.aws_region == "us-east-1"
    assert settings.dynamodb_endpoint_url is None
    assert settings.environment == "development"
    assert settings.timezone == "UTC"
    assert settings.session_ttl_seconds == 1800
    assert settings.rate_limit == "600/minute"
    assert settings.api_keys == ()


def test_environment_sets_every_field() -> None:
    settings = load_settings(
        {
            "HEALTH_API_STORAGE": "DynamoDB",
            "HEALTH_API_SQLITE_PATH": "/tmp/x.db",
            "HEALTH_API_SQLITE_SYNCHRONOUS": "Normal",
            "AWS_REGION": "eu-west-1",
            "AWS_ENDPOINT_URL_DYNAMODB": "http://localhost:8000",
            "HEALTH_API_TABLE_PREFIX": "dev-",
            "ENVIRONMENT": "staging",
            "HEALTH_API_KEYS": f"admin={GOOD_KEY}, agent={'a' * 20}",
            "HEALTH_API_TIMEZONE": "Europe/Madrid",
            "SESSION_TTL_SECONDS": "600",
            "HEALTH_API_RATE_LIMIT": "10 per second",
        }
    )

    assert settings.storage == "dynamodb"
    assert settings.sqlite_path == Path("/tmp/x.db")
    assert settings.sqlite_synchronous == "normal"
    assert settings.aws_region == "eu-west-1"
    assert settings.dynamodb_endpoint_url == "http://localhost:8000"
    assert settings.environment == "staging"
    assert settings.api_keys == (ApiKey("admin", GOOD_KEY), ApiKey("agent", "a" * 20))
    assert settings.timezone == "Europe/Madrid"
    assert settings.session_ttl_seconds == 600


def test_hold_and_idempotency_settings_default_and_read_their_variables() -> None:
    defaults = load_settings({})
    assert defaults.hold_ttl_seconds == 300
    assert defaults.hold_max_per_user == 3
    assert defaults.idempotency_ttl_seconds == 86400
    assert defaults.idempotency_lease_seconds == 30

    settings = load_settings(
        {
            "HOLD_TTL_SECONDS": "30",
            "HOLD_MAX_PER_USER": "50",
            "HEALTH_API_IDEMPOTENCY_TTL_SECONDS": str(30 * 24 * 3600),
            "HEALTH_API_IDEMPOTENCY_LEASE_SECONDS": "3",
            "GUNICORN_TIMEOUT": "1",  # gunicorn's own: no longer any claim's bound
        }
    )
    assert settings.hold_ttl_seconds == 30
    assert settings.hold_max_per_user == 50
    assert settings.idempotency_ttl_seconds == 30 * 24 * 3600
    assert settings.idempotency_lease_seconds == 3


def test_hold_settings_in_the_toml_file_are_checked_too(tmp_path: Path) -> None:
    config = tmp_path / "health.toml"
    config.write_text("hold_ttl_seconds = 1800\nhold_max_per_user = 99\n")

    with pytest.raises(ConfigError, match=r"^hold_max_per_user in .*health\.toml: .*1 and 50"):
        load_settings({"HEALTH_API_CONFIG": str(config)})


def test_endpoint_alias_is_read_when_the_standard_name_is_absent() -> None:
    settings = load_settings({"DYNAMODB_ENDPOINT_URL": "http://127.0.0.1:4566"})

    assert settings.dynamodb_endpoint_url == "http://127.0.0.1:4566"


def test_standard_endpoint_name_wins_over_the_alias() -> None:
    settings = load_settings(
        {"AWS_ENDPOINT_URL_DYNAMODB": "http://a:1", "DYNAMODB_ENDPOINT_URL": "http://b:2"}
    )

    assert settings.dynamodb_endpoint_url == "http://a:1"


@pytest.mark.parametrize(
    ("variable", "value", "fragment"),
    [
        ("HEALTH_API_STORAGE", "memory", "'sqlite' or 'dynamodb'"),
        ("HEALTH_API_SQLITE_SYNCHRONOUS", "off", "'full' or 'normal'"),
        ("AWS_REGION", "mars", "not an AWS region"),
        ("AWS_ENDPOINT_URL_DYNAMODB", "localhost:8000", "http:// or https://"),
        ("HEALTH_API_TABLE_DOCTORES", "no spaces allowed", "not a DynamoDB table name"),
        ("HEALTH_API_TABLE_PREFIX", "bad/prefix", "may only hold"),
        ("ENVIRONMENT", "pro duction", "tag value"),
        ("HEALTH_API_TIMEZONE", "Mars/Olympus", "IANA"),
        ("SESSION_TTL_SECONDS", "soon", "whole number"),
        ("SESSION_TTL_SECONDS", "0", "between 1 and 604800"),
        ("SESSION_TTL_SECONDS", "604801", "between 1 and 604800"),
        ("HOLD_TTL_SECONDS", "soon", "whole number"),
        ("HOLD_TTL_SECONDS", "29", "between 30 and 1800"),
        ("HOLD_TTL_SECONDS", "1801", "between 30 and 1800"),
        ("HOLD_MAX_PER_USER", "0", "between 1 and 50"),
        ("HOLD_MAX_PER_USER", "51", "between 1 and 50"),
        ("HEALTH_API_IDEMPOTENCY_TTL_SECONDS", "59", "between 60 and 2592000"),
        ("HEALTH_API_IDEMPOTENCY_TTL_SECONDS", "2592001", "between 60 and 2592000"),
        ("HEALTH_API_IDEMPOTENCY_TTL_SECONDS", "a day", "whole number"),
        ("HEALTH_API_IDEMPOTENCY_LEASE_SECONDS", "2", "between 3 and 3600"),
        ("HEALTH_API_IDEMPOTENCY_LEASE_SECONDS", "3601", "between 3 and 3600"),
        ("HEALTH_API_RATE_LIMIT", "lots", "rate like"),
        ("HEALTH_API_KEYS", "admin", "role=key"),
        ("HEALTH_API_KEYS", f"root={GOOD_KEY}", "unknown role 'root'"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_variable(variable, value, fragment) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({variable: value})

    message = str(caught.value)
    assert message.startswith(f"{variable}: ")
    assert fragment in message
    assert "\n" not in message


def test_a_short_key_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({"HEALTH_API_KEYS": "agent=short-secret"})

    assert "shorter than 16" in str(caught.value)
    assert "short-secret" not in str(caught.value)


def test_keys_never_appear_in_the_settings_repr() -> None:
    settings = load_settings({"HEALTH_API_KEYS": f"admin={GOOD_KEY}"})

    assert GOOD_KEY not in repr(settings)


def test_toml_file_sets_values_and_the_environment_wins(tmp_path: Path) -> None:
    config = tmp_path / "health.toml"
    config.write_text(
        'storage = "dynamodb"\n'
        'aws_region = "eu-south-2"\n'
        'environment = "staging"\n'
        "[tables]\n"
        'doctores = "legacy-doctors"\n'
        'horarios_doctores = "legacy-slots"\n'
    )

    settings = load_settings({"HEALTH_API_CONFIG": str(config), "ENVIRONMENT": "qa"})

    assert settings.storage == "dynamodb"
    assert settings.aws_region == "eu-south-2"
    assert settings.environment == "qa"
    specs = table_specs(settings)
    assert specs["doctores"].name == "legacy-doctors"
    assert specs["horarios_doctores"].name == "legacy-slots"
    assert specs["user_sessions"].name == "user_sessions"


def test_toml_file_may_use_a_health_api_section(tmp_path: Path) -> None:
    config = tmp_path / "health.toml"
    config.write_text('[health_api]\nsession_ttl_seconds = 900\ntimezone = "America/Bogota"\n')

    settings = load_settings({"HEALTH_API_CONFIG": str(config)})

    assert settings.session_ttl_seconds == 900
    assert settings.timezone == "America/Bogota"


def test_toml_errors_name_the_file_and_the_setting(tmp_path: Path) -> None:
    config = tmp_path / "health.toml"
    config.write_text("session_ttl_seconds = -5\n")

    with pytest.raises(ConfigError, match=r"^session_ttl_seconds in .*health\.toml: "):
        load_settings({"HEALTH_API_CONFIG": str(config)})


@pytest.mark.parametrize(
    ("content", "fragment"),
    [("colour = 'blue'\n", "unknown setting 'colour'"), ("storage = [\n", "cannot read")],
)
def test_a_bad_toml_file_is_refused(tmp_path: Path, content: str, fragment: str) -> None:
    config = tmp_path / "health.toml"
    config.write_text(content)

    with pytest.raises(ConfigError, match="HEALTH_API_CONFIG") as caught:
        load_settings({"HEALTH_API_CONFIG": str(config)})

    assert fragment in str(caught.value)


def test_a_missing_toml_file_is_refused() -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_settings({"HEALTH_API_CONFIG": "/nonexistent/health.toml"})


def test_table_names_honour_prefix_and_per_table_override() -> None:
    settings = load_settings(
        {"HEALTH_API_TABLE_PREFIX": "prod-", "HEALTH_API_TABLE_USER_SESSIONS": "chat-sessions"}
    )

    names = {logical: spec.name for logical, spec in table_specs(settings).items()}

    assert names == {
        "doctores": "prod-doctores",
        "horarios_doctores": "prod-horarios_doctores",
        "user_sessions": "chat-sessions",
        "idempotency_keys": "prod-idempotency_keys",
    }


def test_replace_validates_and_labels_the_change() -> None:
    settings = load_settings({})

    with pytest.raises(ConfigError, match=r"^--region: "):
        settings.replace(labels={"aws_region": "--region"}, aws_region="nowhere")


@pytest.mark.parametrize(
    ("variable", "value", "fragment"),
    [
        ("HEALTH_API_TABLE_DOCTORES", "ab", "'ab' is not a DynamoDB table name: 2 characters"),
        ("HEALTH_API_TABLE_USER_SESSIONS", "s" * 256, "256 characters, DynamoDB takes 3-255"),
        ("HEALTH_API_TABLE_HORARIOS_DOCTORES", "citas médicas", "it holds ' ', 'é'"),
        ("HEALTH_API_TABLE_DOCTORES", "prod/doctors", "it holds '/'"),
        ("HEALTH_API_TABLE_PREFIX", "clinic:", "may only hold"),
    ],
)
def test_a_table_name_dynamodb_refuses_is_a_config_error_naming_the_variable(
    variable, value, fragment
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({"HEALTH_API_STORAGE": "dynamodb", variable: value})

    message = str(caught.value)
    assert message.startswith(f"{variable}: ")
    assert fragment in message
    assert len(message) < 200  # a long name is cut short, not echoed whole


def test_a_prefix_that_makes_a_name_too_long_names_the_prefix_and_the_table() -> None:
    # 239 + len("horarios_doctores") = 256: one over DynamoDB's limit.
    with pytest.raises(ConfigError) as caught:
        load_settings({"HEALTH_API_TABLE_PREFIX": "p" * 239})

    message = str(caught.value)
    assert message.startswith("HEALTH_API_TABLE_PREFIX: the horarios_doctores table would be")
    assert "256 characters, DynamoDB takes 3-255" in message


def test_a_long_prefix_is_fine_for_tables_named_by_their_own_override() -> None:
    settings = load_settings(
        {"HEALTH_API_TABLE_PREFIX": "p" * 239, "HEALTH_API_TABLE_HORARIOS_DOCTORES": "slots"}
    )

    names = {spec.name for spec in table_specs(settings).values()}
    assert names == {
        "p" * 239 + "doctores",
        "slots",
        "p" * 239 + "user_sessions",
        "p" * 239 + "idempotency_keys",
    }
    assert all(3 <= len(name) <= 255 for name in names)


def test_a_bad_table_name_in_the_toml_file_names_the_file_entry(tmp_path: Path) -> None:
    config = tmp_path / "health.toml"
    config.write_text('[tables]\nuser_sessions = "s"\n')

    with pytest.raises(ConfigError) as caught:
        load_settings({"HEALTH_API_CONFIG": str(config)})

    assert str(caught.value).startswith(f"table_user_sessions in {config}: 's' is not a DynamoDB")


def test_the_app_refuses_a_bad_table_name_before_any_dynamodb_call(monkeypatch) -> None:
    from health_api import create_app

    monkeypatch.setenv("HEALTH_API_STORAGE", "dynamodb")
    monkeypatch.setenv("HEALTH_API_TABLE_DOCTORES", "dr")
    monkeypatch.setattr(
        "health_api.storage.dynamodb.storage.build_client",
        lambda *a, **k: pytest.fail("no client may be built for a bad table name"),
    )

    with pytest.raises(ConfigError, match=r"^HEALTH_API_TABLE_DOCTORES: 'dr' is not a DynamoDB"):
        create_app()
