"""Settings: one validated object read from the environment (and optionally a TOML file).

The environment always wins over the file named by ``HEALTH_API_CONFIG``. Every bad value stops
start-up with a one-line :class:`ConfigError` naming the variable; the object is then passed down to
whoever needs it, never imported as a global.

The package: ``values`` (the error, ``ApiKey`` and the bounds), ``parsing`` (which variables set
each field and how their text is read), ``checks`` (what a parsed value must satisfy) and
``settings`` (``Settings`` and ``load_settings``). Import from ``health_api.config``.
"""

from health_api.config.parsing import env_names
from health_api.config.settings import Settings, load_settings
from health_api.config.values import (
    DEFAULT_FORWARDED_ALLOW_IPS,
    HOLD_MAX_PER_USER_RANGE,
    HOLD_TTL_RANGE,
    IDEMPOTENCY_LEASE_RANGE,
    IDEMPOTENCY_TTL_RANGE,
    MAX_DYNAMODB_TIMEOUT_SECONDS,
    MAX_SESSION_TTL_SECONDS,
    MIN_KEY_ID_SECRET_LENGTH,
    MIN_KEY_LENGTH,
    ROLES,
    TABLE_NAME_LENGTH,
    TOKEN_MAX_TTL_RANGE,
    ApiKey,
    ConfigError,
)

__all__ = [
    "DEFAULT_FORWARDED_ALLOW_IPS",
    "HOLD_MAX_PER_USER_RANGE",
    "HOLD_TTL_RANGE",
    "IDEMPOTENCY_LEASE_RANGE",
    "IDEMPOTENCY_TTL_RANGE",
    "MAX_DYNAMODB_TIMEOUT_SECONDS",
    "MAX_SESSION_TTL_SECONDS",
    "MIN_KEY_ID_SECRET_LENGTH",
    "MIN_KEY_LENGTH",
    "ROLES",
    "TABLE_NAME_LENGTH",
    "TOKEN_MAX_TTL_RANGE",
    "ApiKey",
    "ConfigError",
    "Settings",
    "env_names",
    "load_settings",
]
