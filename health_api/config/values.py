"""What settings are made of: the error a bad one raises, the API key value, and the bounds
settings are checked against (schemas, services and the MCP surface import the bounds too, so
the rule and the check share one number)."""

from __future__ import annotations

from dataclasses import dataclass, field

ROLES = ("admin", "agent", "issuer")
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
# Patient tokens: the longest lifetime a token of this service (or the HS256 issuer) may have is
# configurable between a minute and a day; a shorter HS256 secret could be brute-forced offline
# from one token.
TOKEN_MAX_TTL_RANGE = (60, 86400)
MIN_HS256_SECRET_BYTES = 32


class ConfigError(ValueError):
    """A setting is missing or invalid; the message is one line naming the variable."""


@dataclass(frozen=True)
class ApiKey:
    """One bearer key and the role it grants; the key itself is never shown in a repr."""

    role: str
    key: str = field(repr=False)
