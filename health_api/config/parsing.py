"""Where each setting comes from and how its text is read: the environment variables that set
a ``Settings`` field (the first one is the documented name) and the parser that turns their
text (or a TOML value) into the field's type. A parser raises ``ValueError``; the caller names
the variable in the ``ConfigError``."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from health_api.config.values import MIN_KEY_LENGTH, ROLES, ApiKey


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


def _parse_trusted_issuers(value: Any) -> tuple[tuple[str, str], ...]:
    """``prefix=https://issuer,...`` (or a TOML table / list of pairs) as ordered pairs."""
    if isinstance(value, Mapping):
        items = [f"{k}={v}" for k, v in value.items()]
    elif isinstance(value, (list, tuple)):
        items = [v if isinstance(v, str) else "=".join(v) for v in value]
    else:
        items = [part for part in str(value).split(",") if part.strip()]
    pairs = []
    for item in items:
        prefix, sep, issuer = item.partition("=")
        if not sep or not prefix.strip() or not issuer.strip():
            raise ValueError("expected comma-separated prefix=https://issuer pairs")
        pairs.append((prefix.strip(), issuer.strip()))
    return tuple(pairs)


# field name -> (environment variables, first wins; parser)
FIELDS: dict[str, tuple[tuple[str, ...], Callable[[Any], Any]]] = {
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
    "token_issuer": (("HEALTH_API_TOKEN_ISSUER",), _parse_str),
    "token_signing_keys": (("HEALTH_API_TOKEN_SIGNING_KEYS",), _parse_optional),
    "token_hs256_secret": (("HEALTH_API_TOKEN_HS256_SECRET",), _parse_optional),
    "token_hs256_issuer": (("HEALTH_API_TOKEN_HS256_ISSUER",), _parse_optional),
    "token_trusted_issuers": (("HEALTH_API_TOKEN_TRUSTED_ISSUERS",), _parse_trusted_issuers),
    "token_audience": (("HEALTH_API_TOKEN_AUDIENCE",), _parse_str),
    "token_max_ttl_seconds": (("HEALTH_API_TOKEN_MAX_TTL_SECONDS",), _parse_int),
    "agent_access": (("HEALTH_API_AGENT_ACCESS",), lambda v: _parse_str(v).lower()),
    "mcp_public_url": (("HEALTH_API_MCP_PUBLIC_URL",), _parse_optional),
    "mcp_token": (("HEALTH_API_MCP_TOKEN",), _parse_optional),
}


def env_names(field_name: str) -> tuple[str, ...]:
    """The environment variables that set ``field_name`` (the first one is the documented name)."""
    return FIELDS[field_name][0]
