"""User tokens (API.md v1.2 "Patient tokens"): JWTs that bind a caller to one user.

- :mod:`.signing_keys`: this service's ES256 keys (PEMs from ``HEALTH_API_TOKEN_SIGNING_KEYS``,
  or one generated once under ``data/`` in development) and their JWKS;
- :mod:`.verify`: :class:`TokenAuthority`, which knows every issuer (this service's ES256, a
  chatbot backend's HS256, external OIDC issuers through their JWKS), verifies a bearer into a
  :class:`VerifiedToken` or raises :class:`InvalidTokenError`, and mints this service's tokens.

Verification and signing are PyJWT's (with ``cryptography``); nothing here logs a token.
"""

from health_api.tokens.verify import (
    InvalidTokenError,
    MintedToken,
    TokenAuthority,
    VerifiedToken,
    build_authority,
    looks_like_jwt,
)

__all__ = [
    "InvalidTokenError",
    "MintedToken",
    "TokenAuthority",
    "VerifiedToken",
    "build_authority",
    "looks_like_jwt",
]
