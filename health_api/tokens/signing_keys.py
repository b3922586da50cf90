"""This service's ES256 signing keys: from ``HEALTH_API_TOKEN_SIGNING_KEYS`` (one or more PEM
blocks, in the value itself or in a file it names; the first signs, all are published), or in
development one P-256 key generated once beside the SQLite file (mode 0600)."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from health_api.config import ConfigError, Settings

DEV_SIGNING_KEY_FILE = "token-signing-key.pem"
_PEM_BLOCK = re.compile(
    r"-----BEGIN (?:EC )?PRIVATE KEY-----.*?-----END (?:EC )?PRIVATE KEY-----", re.DOTALL
)


@dataclass(frozen=True)
class SigningKey:
    """One ES256 key: its ``kid`` (a thumbprint of the public key), private and public halves."""

    kid: str
    private: ec.EllipticCurvePrivateKey
    public: ec.EllipticCurvePublicKey

    def jwk(self) -> dict[str, Any]:
        """The public key as a JWK (``kid``, ``alg``, ``use``)."""
        jwk = json.loads(ECAlgorithm.to_jwk(self.public))
        return {**jwk, "kid": self.kid, "alg": "ES256", "use": "sig"}


def key_of(private: ec.EllipticCurvePrivateKey) -> SigningKey:
    """A :class:`SigningKey` for ``private`` (a P-256 key)."""
    if not isinstance(private, ec.EllipticCurvePrivateKey) or private.curve.name != "secp256r1":
        raise ConfigError("HEALTH_API_TOKEN_SIGNING_KEYS: each key must be an EC P-256 key")
    public = private.public_key()
    der = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return SigningKey(hashlib.sha256(der).hexdigest()[:16], private, public)


def parse_pems(text: str) -> tuple[SigningKey, ...]:
    """Every private key PEM block of ``text``, in order."""
    blocks = _PEM_BLOCK.findall(text)
    if not blocks:
        raise ConfigError(
            "HEALTH_API_TOKEN_SIGNING_KEYS: no PEM private key found (give PEM blocks, or the "
            "path of a file holding them)"
        )
    keys = []
    for block in blocks:
        try:
            private = serialization.load_pem_private_key(block.encode(), password=None)
        except (ValueError, TypeError):
            raise ConfigError(
                "HEALTH_API_TOKEN_SIGNING_KEYS: a PEM block is not a readable private key"
            ) from None
        keys.append(key_of(private))  # type: ignore[arg-type]
    return tuple(keys)


def resolve_signing_keys(settings: Settings) -> tuple[SigningKey, ...]:
    """The configured keys (the value, or the file it names), else in development the one
    generated once under the data directory; outside development none (tokens of this service
    are then neither issued nor accepted)."""
    value = settings.token_signing_keys
    if value:
        if "-----BEGIN" in value:
            return parse_pems(value)
        path = Path(value)
        try:
            return parse_pems(path.read_text())
        except OSError as exc:
            raise ConfigError(
                f"HEALTH_API_TOKEN_SIGNING_KEYS: cannot read {path} ({exc.strerror})"
            ) from None
    if not settings.is_development:
        return ()
    from health_api.keys import publish_once

    path = Path(settings.sqlite_path).parent / DEV_SIGNING_KEY_FILE
    if not path.exists():
        private = ec.generate_private_key(ec.SECP256R1())
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        publish_once(path, pem.decode())
    return parse_pems(path.read_text())
