"""User tokens in API tests: an app that issues them (an issuer key and a signing key of its
own), tokens minted by its authority, and the headers that carry them."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask

from health_api.api.kernel import kernel_of
from health_api.config import ApiKey
from tests.api.conftest import ADMIN_KEY, AGENT_KEY, with_test_keys

ISSUER_KEY = "issuer-test-key-0123456789"
ISSUER = {"Authorization": f"Bearer {ISSUER_KEY}"}
# One P-256 key for the whole run (generating one costs a millisecond, but one is enough).
SIGNING_KEY = (
    ec.generate_private_key(ec.SECP256R1())
    .private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    .decode()
)
TEST_KEYS = (ApiKey("admin", ADMIN_KEY), ApiKey("agent", AGENT_KEY), ApiKey("issuer", ISSUER_KEY))


def token_settings(settings, **changes):
    """``settings`` with the test keys, an issuer key and the signing key."""
    return with_test_keys(
        settings, **{"api_keys": TEST_KEYS, "token_signing_keys": SIGNING_KEY, **changes}
    )


def token(app: Flask, user: str, scope: str | None = None, ttl: int | None = None) -> str:
    """A token of ``app``'s authority for ``user`` (``scope``: space-separated; None: both)."""
    scopes = None if scope is None else frozenset(scope.split())
    return kernel_of(app).tokens.mint(user, scopes, ttl).access_token


def bearer(app: Flask, user: str, scope: str | None = None, ttl: int | None = None) -> dict:
    """The ``Authorization`` header of a fresh token for ``user``."""
    return {"Authorization": f"Bearer {token(app, user, scope, ttl)}"}
