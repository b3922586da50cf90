"""Token fixtures: this service's signing keys (PEM), settings and an app that accept user
tokens, and ``forge``, which signs any claims with any key (the faults the verifier refuses)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask

from health_api import create_app
from health_api.config import load_settings
from health_api.tokens import TokenAuthority, build_authority
from health_api.tokens.signing_keys import SigningKey, parse_pems
from tests.api.conftest import with_test_keys

HS256_SECRET = "hs256-test-secret-0123456789abcdef-xyz"
HS256_ISSUER = "https://chatbot.example"


def new_pem() -> str:
    """A fresh P-256 private key as a PKCS#8 PEM block."""
    private = ec.generate_private_key(ec.SECP256R1())
    return private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@pytest.fixture(scope="session")
def pems() -> tuple[str, str]:
    """Two signing keys: the current one and the next (or previous) one."""
    return new_pem(), new_pem()


@pytest.fixture
def token_settings(tmp_path, pems):
    """Test settings (keys, key-id secret) with this service's signing key and an HS256 issuer."""
    base = load_settings({}).replace(sqlite_path=tmp_path / "health.db")
    return with_test_keys(
        base,
        token_signing_keys=pems[0],
        token_hs256_secret=HS256_SECRET,
        token_hs256_issuer=HS256_ISSUER,
    )


@pytest.fixture
def authority(token_settings) -> TokenAuthority:
    """The authority of ``token_settings``."""
    return build_authority(token_settings)


@pytest.fixture
def signing_key(pems) -> SigningKey:
    """This service's (first) signing key."""
    return parse_pems(pems[0])[0]


@pytest.fixture
def token_app(token_settings) -> Flask:
    """The app (SQLite on a temp file) that accepts this service's and the HS256 tokens."""
    return create_app({"settings": token_settings})


@pytest.fixture
def forge(signing_key) -> Callable[..., str]:
    """``forge(**claims)``: a token signed by this service's key unless ``key``/``alg``/
    ``headers`` say otherwise; claims default to a valid token for user ``u-ana``."""

    def make(*, key: Any = None, alg: str = "ES256", headers: dict | None = None, **claims):
        now = int(time.time())
        body = {
            "iss": "health-api",
            "sub": "u-ana",
            "aud": "health-api",
            "iat": now,
            "exp": now + 600,
            **claims,
        }
        body = {k: v for k, v in body.items() if v is not None}
        head = {"kid": signing_key.kid, **(headers or {})}
        return jwt.encode(body, signing_key.private if key is None else key, alg, head)

    return make
