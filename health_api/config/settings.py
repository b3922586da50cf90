"""The ``Settings`` object and how it is built: defaults, then the TOML file named by
``HEALTH_API_CONFIG``, then the environment (which always wins); every value parsed
(``parsing``) and checked (``checks``) before the object exists."""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from health_api.config.checks import CHECKS, check_prefixed_names
from health_api.config.parsing import FIELDS
from health_api.config.token_checks import check_token_settings
from health_api.config.values import DEFAULT_FORWARDED_ALLOW_IPS, ApiKey, ConfigError


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
    # Patient tokens (API.md v1.2): this service's ES256 issuer and keys, a chatbot backend's
    # HS256 issuer, external OIDC issuers (prefix -> issuer URL), the audience, the longest
    # lifetime; what agent keys reach; the MCP server's public URL and a stdio server's token.
    token_issuer: str = "health-api"  # noqa: S105 (an issuer name)
    token_signing_keys: str | None = field(default=None, repr=False)
    token_hs256_secret: str | None = field(default=None, repr=False)
    token_hs256_issuer: str | None = None
    token_trusted_issuers: tuple[tuple[str, str], ...] = ()
    token_audience: str = "health-api"  # noqa: S105 (an audience name)
    token_max_ttl_seconds: int = 3600
    agent_access: str = "all"
    mcp_public_url: str | None = None
    mcp_token: str | None = field(default=None, repr=False)

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
    for name, (variables, _parser) in FIELDS.items():
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
    unknown = sorted(set(flat) - set(FIELDS))
    if unknown:
        raise ConfigError(
            f"HEALTH_API_CONFIG: unknown setting {unknown[0]!r} in {path!r}; "
            f"known: {', '.join(sorted(FIELDS))}"
        )
    return flat


def _build(raw: dict[str, Any], source: dict[str, str]) -> Settings:
    values: dict[str, Any] = {}
    for name, (variables, parser) in FIELDS.items():
        label = source.get(name, variables[0])
        try:
            values[name] = parser(raw[name]) if raw[name] is not None else None
        except ValueError as exc:
            raise ConfigError(f"{label}: {exc}") from None
        check = CHECKS.get(name)
        problem = check(values[name]) if check else None
        if problem:
            raise ConfigError(f"{label}: {problem}")
    check_prefixed_names(values, source)
    check_token_settings(values, source)
    return Settings(**values)
