"""The checks a parsed setting must pass: each returns a one-line problem or None, and
``check_prefixed_names`` judges the table names a prefix makes. ``settings._build`` runs them
and turns a problem into a ``ConfigError`` naming the variable."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from health_api.config.parsing import FIELDS
from health_api.config.token_checks import CHECKS as TOKEN_CHECKS
from health_api.config.values import (
    HOLD_MAX_PER_USER_RANGE,
    HOLD_TTL_RANGE,
    IDEMPOTENCY_LEASE_RANGE,
    IDEMPOTENCY_TTL_RANGE,
    MAX_DYNAMODB_TIMEOUT_SECONDS,
    MAX_SESSION_TTL_SECONDS,
    MIN_KEY_ID_SECRET_LENGTH,
    TABLE_NAME_LENGTH,
    ConfigError,
)

_NOT_IN_TABLE_NAME = re.compile(r"[^A-Za-z0-9_.-]")
_ENVIRONMENT = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
_RATE_LIMIT = re.compile(r"^\d+\s*(/|per)\s*\d*\s*(second|minute|hour|day)s?$", re.IGNORECASE)


def check_prefixed_names(values: dict[str, Any], source: dict[str, str]) -> None:
    """Every table without an override is named ``prefix + logical name`` (as
    ``storage.tables.table_name`` does): each such name must be one DynamoDB accepts."""
    prefix = values["table_prefix"]
    for name in FIELDS:
        if not name.startswith("table_") or name == "table_prefix" or values[name]:
            continue
        logical = name.removeprefix("table_")
        reason = _table_name_problem(prefix + logical)
        if reason:
            label = source.get("table_prefix", FIELDS["table_prefix"][0][0])
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


CHECKS: dict[str, Callable[[Any], str | None]] = {
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
    **TOKEN_CHECKS,
}
