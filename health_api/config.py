"""Settings: one validated object read from the environment (and optionally a TOML file).

The environment always wins over the file named by ``HEALTH_API_CONFIG``. Every bad value stops
start-up with a one-line :class:`ConfigError` naming the variable; the object is then passed down to
whoever needs it, never imported as a global.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ROLES = ("admin", "agent")
MIN_KEY_LENGTH = 16
MAX_SESSION_TTL_SECONDS = 7 * 24 * 3600
# Holds (API.md "Holds"): how long one lasts by default, and how many live holds one user may keep.
HOLD_TTL_RANGE = (30, 1800)
HOLD_MAX_PER_USER_RANGE = (1, 50)
# How long an Idempotency-Key's answer is kept (API.md "Idempotency-Key"): a minute to 30 days.
IDEMPOTENCY_TTL_RANGE = (60, 30 * 24 * 3600)
# How long a claim outlives its last renewal (renewed every third of it): 3 s to an hour.
IDEMPOTENCY_LEASE_RANGE = (3, 3600)
MAX_DYNAMODB_TIMEOUT_SECONDS = 20.0
# The key-id secret is an HMAC key: shorter ones are guessable offline from a logged key_id.
MIN_KEY_ID_SECRET_LENGTH = 32
# Which peers may name the client in X-Forwarded-For: gunicorn's own default (gunicorn.conf.py
# reads the same variable with this default, so both agree).
DEFAULT_FORWARDED_ALLOW_IPS = ("127.0.0.1", "::1")
# What DynamoDB accepts as a table name (CreateTable and every item call refuse anything else).
TABLE_NAME_LENGTH = (3, 255)
_NOT_IN_TABLE_NAME = re.compile(r"[^A-Za-z0-9_.-]")
_ENVIRONMENT = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
_RATE_LIMIT = re.compile(r"^\d+\s*(/|per)\s*\d*\s*(second|minute|hour|day)s?$", re.IGNORECASE)


class ConfigError(ValueError):
    """A setting is missing or invalid; the message is one line naming the variable."""


@dataclass(frozen=True)
class ApiKey:
    """One bearer key and the role it grants; the key itself is never shown in a repr."""

    role: str
    key: str = field(repr=False)


@dataclass(frozen=True)
class Settings:
    """Everything the service and ``setup_tables.py`` read from their environment."""

    storage: str = "sqlite"
    sqlite_path: Path = Path("./data/health_api.db")
    sqlite_synchronous: str = "full"
    aws_region: str = "us-east-1"
    dynamodb_endpoint_url: str | None = None
    dynamodb_connect_timeout: float = 2.0
    dynamodb_read_timeout: float = 5.0
    table_prefix: str = ""
    table_doctores: str | None = None
    table_horarios_doctores: str | None = None
    table_user_sessions: str | None = None
    table_idempotency_keys: str | None = None
    environment: str = "development"
    api_keys: tuple[ApiKey, ...] = ()
    timezone: str = "UTC"
    session_ttl_seconds: int = 1800
    hold_ttl_seconds: int = 300
    hold_max_per_user: int = 3
    idempotency_ttl_seconds: int = 86400
    # A running request renews its Idempotency-Key claim; one not renewed for this long
    # belongs to a dead process and is taken over (services/idempotency_lease.py).
    idempotency_lease_seconds: int = 30
    rate_limit: str = "600/minute"
    # Failed authentications one client address may make per window before it is refused.
    auth_failure_limit: str = "30/minute"
    forwarded_allow_ips: tuple[str, ...] = DEFAULT_FORWARDED_ALLOW_IPS
    cors_origins: tuple[str, ...] = ()
    cursor_secret: str | None = field(default=None, repr=False)
    # The HMAC key of the key ids in logs (keys.key_id); generated in development.
    key_id_secret: str | None = field(default=None, repr=False)
    log_level: str = "INFO"
    # The MCP server (python -m health_api mcp): where it listens, and the key a stdio server
    # acts with (stdio has no request headers to carry one).
    mcp_host: str = "127.0.0.1"
    mcp_port: int = 8001
    mcp_key: str | None = field(default=None, repr=False)

    @property
    def is_production(self) -> bool:
        """True when the deployment calls itself production (stricter safety rails)."""
        return self.environment.lower() in {"production", "prod"}

    @property
    def is_development(self) -> bool:
        """True for a developer's machine, where conveniences (generated keys) are allowed."""
        return self.environment.lower() == "development"

    def replace(self, labels: Mapping[str, str] | None = None, **changes: Any) -> Settings:
        """Return a validated copy with ``changes`` applied (tests, the app factory, CLI flags).

        ``labels`` names where a change came from (``{"aws_region": "--region"}``) for errors.
        """
        raw = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        raw.update(changes)
        return _build(raw, source={name: name for name in changes} | dict(labels or {}))


# field name -> (environment variables, first wins; parser)
def _parse_str(value: Any) -> str:
    return str(value).strip()


def _parse_optional(value: Any) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


def _parse_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("expected a whole number")
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if not re.fullmatch(r"[+-]?\d+", text):
        raise ValueError(f"expected a whole number, got {text!r}")
    return int(text)


def _parse_seconds(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("expected a number of seconds")
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip()
    if not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)", text):
        raise ValueError(f"expected a number of seconds, got {text!r}")
    return float(text)


def _parse_list(value: Any) -> tuple[str, ...]:
    items = value if isinstance(value, list | tuple) else str(value or "").split(",")
    return tuple(str(item).strip() for item in items if str(item).strip())


def _parse_keys(value: Any) -> tuple[ApiKey, ...]:
    if isinstance(value, tuple) and all(isinstance(k, ApiKey) for k in value):
        keys = value
    else:
        items = value if isinstance(value, list) else str(value or "").split(",")
        keys = []
        for item in (str(i).strip() for i in items):
            if not item:
                continue
            role, sep, key = item.partition("=")
            if not sep:
                raise ValueError("expected comma-separated role=key pairs")
            keys.append(ApiKey(role.strip().lower(), key.strip()))
        keys = tuple(keys)
    for api_key in keys:
        if api_key.role not in ROLES:
            raise ValueError(f"unknown role {api_key.role!r}; roles are {', '.join(ROLES)}")
        if len(api_key.key) < MIN_KEY_LENGTH:
            # Never echo the key itself, not even in an error.
            raise ValueError(
                f"a key for role {api_key.role!r} is shorter than {MIN_KEY_LENGTH} characters"
            )
    return keys


_FIELDS: dict[str, tuple[tuple[str, ...], Callable[[Any], Any]]] = {
    "storage": (("HEALTH_API_STORAGE",), lambda v: _parse_str(v).lower()),
    "sqlite_path": (("HEALTH_API_SQLITE_PATH",), lambda v: Path(_parse_str(v))),
    "sqlite_synchronous": (("HEALTH_API_SQLITE_SYNCHRONOUS",), lambda v: _parse_str(v).lower()),
    "aws_region": (("AWS_REGION", "AWS_DEFAULT_REGION"), _parse_str),
    "dynamodb_endpoint_url": (
        ("AWS_ENDPOINT_URL_DYNAMODB", "DYNAMODB_ENDPOINT_URL"),
        _parse_optional,
    ),
    "dynamodb_connect_timeout": (("HEALTH_API_DYNAMODB_CONNECT_TIMEOUT",), _parse_seconds),
    "dynamodb_read_timeout": (("HEALTH_API_DYNAMODB_READ_TIMEOUT",), _parse_seconds),
    "table_prefix": (("HEALTH_API_TABLE_PREFIX",), _parse_str),
    "table_doctores": (("HEALTH_API_TABLE_DOCTORES",), _parse_optional),
    "table_horarios_doctores": (("HEALTH_API_TABLE_HORARIOS_DOCTORES",), _parse_optional),
    "table_user_sessions": (("HEALTH_API_TABLE_USER_SESSIONS",), _parse_optional),
    "table_idempotency_keys": (("HEALTH_API_TABLE_IDEMPOTENCY_KEYS",), _parse_optional),
    "environment": (("ENVIRONMENT",), _parse_str),
    "api_keys": (("HEALTH_API_KEYS",), _parse_keys),
    "timezone": (("HEALTH_API_TIMEZONE",), _parse_str),
    "session_ttl_seconds": (("SESSION_TTL_SECONDS",), _parse_int),
    "hold_ttl_seconds": (("HOLD_TTL_SECONDS",), _parse_int),
    "hold_max_per_user": (("HOLD_MAX_PER_USER",), _parse_int),
    "idempotency_ttl_seconds": (("HEALTH_API_IDEMPOTENCY_TTL_SECONDS",), _parse_int),
    "idempotency_lease_seconds": (("HEALTH_API_IDEMPOTENCY_LEASE_SECONDS",), _parse_int),
    "rate_limit": (("HEALTH_API_RATE_LIMIT",), _parse_str),
    "auth_failure_limit": (("HEALTH_API_AUTH_FAILURE_LIMIT",), _parse_str),
    "forwarded_allow_ips": (("FORWARDED_ALLOW_IPS",), _parse_list),
    "cors_origins": (("HEALTH_API_CORS_ORIGINS",), _parse_list),
    "cursor_secret": (("HEALTH_API_CURSOR_SECRET",), _parse_optional),
    "key_id_secret": (("HEALTH_API_KEY_ID_SECRET",), _parse_optional),
    "log_level": (("LOG_LEVEL",), lambda v: _parse_str(v).upper()),
    "mcp_host": (("HEALTH_API_MCP_HOST",), _parse_str),
    "mcp_port": (("HEALTH_API_MCP_PORT",), _parse_int),
    "mcp_key": (("HEALTH_API_MCP_KEY",), _parse_optional),
}


def env_names(field_name: str) -> tuple[str, ...]:
    """The environment variables that set ``field_name`` (the first one is the documented name)."""
    return _FIELDS[field_name][0]


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read settings: defaults, then the TOML file in ``HEALTH_API_CONFIG``, then the env."""
    environ = os.environ if environ is None else environ
    raw: dict[str, Any] = {}
    source: dict[str, str] = {}
    config_path = environ.get("HEALTH_API_CONFIG", "").strip()
    if config_path:
        for name, value in _read_toml(config_path).items():
            raw[name] = value
            source[name] = f"{name} in {config_path}"
    for name, (variables, _parser) in _FIELDS.items():
        for variable in variables:
            if variable in environ:
                raw[name] = environ[variable]
                source[name] = variable
                break
    defaults = {f.name: f.default for f in dataclasses.fields(Settings)}
    return _build({**defaults, **raw}, source)


def _read_toml(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            document = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"HEALTH_API_CONFIG: no such file {path!r}") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"HEALTH_API_CONFIG: cannot read {path!r}: {exc}") from None
    # Accept keys at the top level or under a [health_api] table; names are Settings fields.
    section = document.get("health_api", document)
    if not isinstance(section, dict):
        raise ConfigError(f"HEALTH_API_CONFIG: [health_api] in {path!r} must be a table")
    tables = section.pop("tables", None) if "tables" in section else None
    flat = dict(section)
    if isinstance(tables, dict):
        for logical, name in tables.items():
            flat[f"table_{logical}"] = name
    unknown = sorted(set(flat) - set(_FIELDS))
    if unknown:
        raise ConfigError(
            f"HEALTH_API_CONFIG: unknown setting {unknown[0]!r} in {path!r}; "
            f"known: {', '.join(sorted(_FIELDS))}"
        )
    return flat


def _build(raw: dict[str, Any], source: dict[str, str]) -> Settings:
    values: dict[str, Any] = {}
    for name, (variables, parser) in _FIELDS.items():
        label = source.get(name, variables[0])
        try:
            values[name] = parser(raw[name]) if raw[name] is not None else None
        except ValueError as exc:
            raise ConfigError(f"{label}: {exc}") from None
        check = _CHECKS.get(name)
        problem = check(values[name]) if check else None
        if problem:
            raise ConfigError(f"{label}: {problem}")
    _check_prefixed_names(values, source)
    return Settings(**values)


def _check_prefixed_names(values: dict[str, Any], source: dict[str, str]) -> None:
    """Every table without an override is named ``prefix + logical name`` (as
    ``storage.tables.table_name`` does): each such name must be one DynamoDB accepts."""
    prefix = values["table_prefix"]
    for name in _FIELDS:
        if not name.startswith("table_") or name == "table_prefix" or values[name]:
            continue
        logical = name.removeprefix("table_")
        reason = _table_name_problem(prefix + logical)
        if reason:
            label = source.get("table_prefix", _FIELDS["table_prefix"][0][0])
            raise ConfigError(
                f"{label}: the {logical} table would be named {_shown(prefix + logical)}, "
                f"not a DynamoDB table name: {reason}"
            )


def _check_storage(value: str) -> str | None:
    if value not in {"sqlite", "dynamodb"}:
        return f"must be 'sqlite' or 'dynamodb', got {value!r}"
    return None


def _check_synchronous(value: str) -> str | None:
    # OFF is not offered: a power loss could then corrupt the file, not only lose the last
    # commits.
    if value not in {"full", "normal"}:
        return f"must be 'full' or 'normal', got {value!r}"
    return None


def _check_region(value: str) -> str | None:
    if not _REGION.match(value):
        return f"{value!r} is not an AWS region name (like us-east-1 or eu-west-3)"
    return None


def _check_endpoint(value: str | None) -> str | None:
    if value and not re.match(r"^https?://[^\s/]+", value):
        return f"must be an http:// or https:// URL, got {value!r}"
    return None


def _check_timeout(value: float) -> str | None:
    if not 0 < value <= MAX_DYNAMODB_TIMEOUT_SECONDS:
        return (
            f"must be more than 0 and at most {MAX_DYNAMODB_TIMEOUT_SECONDS:g} seconds, "
            f"got {value:g}"
        )
    return None


def _shown(value: str) -> str:
    """``value`` quoted for a one-line message, cut short when long."""
    return repr(value) if len(value) <= 40 else repr(value[:37] + "...")


def _table_name_problem(value: str) -> str | None:
    """Why DynamoDB would refuse ``value`` as a table name (None: it would not)."""
    low, high = TABLE_NAME_LENGTH
    bad = sorted(set(_NOT_IN_TABLE_NAME.findall(value)))
    if bad:
        held = ", ".join(repr(c) for c in bad[:5])
        return f"it holds {held} (allowed: A-Z a-z 0-9 _ . -)"
    if not low <= len(value) <= high:
        return f"{len(value)} characters, DynamoDB takes {low}-{high}"
    return None


def _check_table_name(value: str | None) -> str | None:
    reason = _table_name_problem(value) if value else None
    return f"{_shown(value)} is not a DynamoDB table name: {reason}" if reason else None


def _check_prefix(value: str) -> str | None:
    # Its length is judged on the names it makes (_check_prefixed_names).
    if _NOT_IN_TABLE_NAME.search(value):
        return f"{_shown(value)} may only hold A-Z a-z 0-9 _ . -"
    return None


def _check_environment(value: str) -> str | None:
    if not _ENVIRONMENT.match(value):
        return f"{value!r} must be 1-64 of A-Z a-z 0-9 _ . - (it becomes a tag value)"
    return None


def _check_timezone(value: str) -> str | None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return f"{value!r} is not an IANA time zone name (like Europe/Madrid or UTC)"
    return None


def _check_ttl(value: int) -> str | None:
    if not 1 <= value <= MAX_SESSION_TTL_SECONDS:
        return f"must be between 1 and {MAX_SESSION_TTL_SECONDS} seconds (7 days), got {value}"
    return None


def _check_between(low: int, high: int, unit: str) -> Callable[[int], str | None]:
    """A check that ``low <= value <= high`` (``unit`` names what is counted, for the message)."""

    def check(value: int) -> str | None:
        if not low <= value <= high:
            return f"must be between {low} and {high} {unit}, got {value}"
        return None

    return check


def _check_rate_limit(value: str) -> str | None:
    if not _RATE_LIMIT.match(value):
        return f"{value!r} is not a rate like '600/minute' or '10 per second'"
    return None


def _check_origins(value: tuple[str, ...]) -> str | None:
    for origin in value:
        if origin == "*":
            # A wildcard would let every web page call the API with a key it holds, and it
            # would switch off the MCP server's Origin (DNS-rebinding) check.
            return (
                "'*' is not accepted: list each allowed origin, comma-separated "
                "(like https://clinic.example,https://app.clinic.example)"
            )
        if not re.match(r"^https?://[^\s/]+$", origin):
            return f"{origin!r} is not an origin like https://clinic.example"
    return None


def _check_forwarded_allow_ips(value: tuple[str, ...]) -> str | None:
    # As gunicorn validates it (strict networks: 10.0.0.1/8 is a mistake for 10.0.0.0/8).
    for entry in value:
        if entry == "*":
            continue
        try:
            ipaddress.ip_network(entry)
        except ValueError:
            return (
                f"{_shown(entry)} is not an IP address or network "
                "(like 10.0.0.0/8 or 127.0.0.1; '*' trusts every peer)"
            )
    return None


def _check_key_id_secret(value: str | None) -> str | None:
    # Never echo the secret itself, not even in an error.
    if value is not None and len(value) < MIN_KEY_ID_SECRET_LENGTH:
        return (
            f"must be at least {MIN_KEY_ID_SECRET_LENGTH} characters "
            "(for example: python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    return None


_CHECKS: dict[str, Callable[[Any], str | None]] = {
    "storage": _check_storage,
    "sqlite_synchronous": _check_synchronous,
    "aws_region": _check_region,
    "dynamodb_endpoint_url": _check_endpoint,
    "dynamodb_connect_timeout": _check_timeout,
    "dynamodb_read_timeout": _check_timeout,
    "table_prefix": _check_prefix,
    "table_doctores": _check_table_name,
    "table_horarios_doctores": _check_table_name,
    "table_user_sessions": _check_table_name,
    "table_idempotency_keys": _check_table_name,
    "environment": _check_environment,
    "timezone": _check_timezone,
    "session_ttl_seconds": _check_ttl,
    "hold_ttl_seconds": _check_between(*HOLD_TTL_RANGE, "seconds"),
    "hold_max_per_user": _check_between(*HOLD_MAX_PER_USER_RANGE, "holds"),
    "idempotency_ttl_seconds": _check_between(*IDEMPOTENCY_TTL_RANGE, "seconds (30 days)"),
    "idempotency_lease_seconds": _check_between(*IDEMPOTENCY_LEASE_RANGE, "seconds"),
    "rate_limit": _check_rate_limit,
    "auth_failure_limit": _check_rate_limit,
    "forwarded_allow_ips": _check_forwarded_allow_ips,
    "cors_origins": _check_origins,
    "key_id_secret": _check_key_id_secret,
    "mcp_host": lambda v: None if v else "must name an interface to listen on (e.g. 127.0.0.1)",
    "mcp_port": _check_between(1, 65535, "(a TCP port)"),
    "log_level": lambda v: (
        None
        if v in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}
        else f"{v!r} is not one of DEBUG, INFO, WARNING, ERROR, CRITICAL"
    ),
}
