"""Verifying (and minting) user tokens: which issuer a token names, that issuer's one algorithm
family and keys, the claims API.md requires, and the user the token binds.

Every failure is an :class:`InvalidTokenError` whose ``reason`` is a short, fixed phrase safe to
show a client and to log (never the token, never a claim value).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

import jwt

from health_api.config import ConfigError, Settings
from health_api.domain.caller import USER_SCOPES
from health_api.domain.ids import is_valid_id
from health_api.tokens.jwks import RemoteJwks
from health_api.tokens.signing_keys import SigningKey, resolve_signing_keys

_JWT_FORM = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")
LEEWAY_SECONDS = 60
MIN_HS256_SECRET_BYTES = 32
DEFAULT_TTL_SECONDS = 900
MIN_TTL_SECONDS = 60


def looks_like_jwt(bearer: str) -> bool:
    """Whether a bearer that is no key has the form of a JWT (three base64url segments)."""
    return len(bearer) <= 8192 and _JWT_FORM.fullmatch(bearer) is not None


class InvalidTokenError(Exception):
    """The bearer is no valid user token; ``reason`` says why in a fixed phrase."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class VerifiedToken:
    """What a verified token says: the bound ``user``, its ``issuer`` and ``subject``, the user
    scopes it grants (both when the token names none) and when it expires (epoch seconds)."""

    user: str
    issuer: str
    subject: str
    scopes: frozenset[str]
    expires_at: int


@dataclass(frozen=True)
class MintedToken:
    """A token this service issued: ``POST /tokens``'s answer."""

    access_token: str
    expires_in: int
    scope: str


@dataclass
class _Issuer:
    """One trusted issuer: its ``iss``, the algorithms it may use, its keys (by ``kid``, or one
    key for all), the prefix of the user ids it binds, and whether its lifetime is capped."""

    iss: str
    algorithms: tuple[str, ...]
    keys: dict[str, Any] = field(default_factory=dict)
    secret: bytes | None = None
    remote: RemoteJwks | None = None
    prefix: str | None = None
    capped: bool = True

    def key_for(self, kid: str | None) -> Any:
        if self.secret is not None:
            return self.secret
        if self.remote is not None:
            return self.remote.key_for(kid)
        if kid is None and len(self.keys) == 1:
            return next(iter(self.keys.values()))
        key = self.keys.get(kid or "")
        if key is None:
            raise InvalidTokenError("the token's signing key is not known")
        return key


class TokenAuthority:
    """Every issuer this service trusts, and this service's own signing keys."""

    def __init__(self, settings: Settings, signing_keys: tuple[SigningKey, ...]) -> None:
        self.audience = settings.token_audience
        self.max_ttl = settings.token_max_ttl_seconds
        self.issuer = settings.token_issuer
        self.signing_keys = signing_keys
        self.issuers: dict[str, _Issuer] = {}
        if signing_keys:
            self.issuers[settings.token_issuer] = _Issuer(
                settings.token_issuer, ("ES256",), keys={k.kid: k.public for k in signing_keys}
            )
        if settings.token_hs256_secret:
            iss = settings.token_hs256_issuer or ""
            self.issuers[iss] = _Issuer(
                iss, ("HS256",), secret=settings.token_hs256_secret.encode()
            )
        for prefix, iss in settings.token_trusted_issuers:
            self.issuers[iss] = _Issuer(
                iss, ("RS256", "ES256"), remote=RemoteJwks(iss), prefix=prefix, capped=False
            )

    @property
    def external_issuers(self) -> tuple[str, ...]:
        """The external (OIDC) issuers' URLs, for RFC 9728 metadata."""
        return tuple(i.iss for i in self.issuers.values() if i.remote is not None)

    def verify(self, token: str, audience: str | None = None) -> VerifiedToken:
        """The verified claims of ``token`` for ``audience`` (default the token audience)."""
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise InvalidTokenError("the token is malformed") from None
        iss = unverified.get("iss")
        issuer = self.issuers.get(iss) if isinstance(iss, str) else None
        if issuer is None:
            raise InvalidTokenError("the token's issuer is not trusted")
        alg = header.get("alg")
        if alg not in issuer.algorithms:
            raise InvalidTokenError("the token's algorithm is not its issuer's")
        kid = header.get("kid")
        key = issuer.key_for(kid if isinstance(kid, str) else None)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=audience or self.audience,
                issuer=issuer.iss,
                leeway=LEEWAY_SECONDS,
                options={"require": ["sub", "exp", "iat"]},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidTokenError("the token has expired") from None
        except jwt.ImmatureSignatureError:
            raise InvalidTokenError("the token is not valid yet") from None
        except jwt.InvalidAudienceError:
            raise InvalidTokenError("the token is for another audience") from None
        except jwt.MissingRequiredClaimError as exc:
            raise InvalidTokenError(f"the token lacks the {exc.claim!r} claim") from None
        except jwt.InvalidSignatureError:
            raise InvalidTokenError("the token's signature is not valid") from None
        except jwt.PyJWTError:
            raise InvalidTokenError("the token is not valid") from None
        return self._verified(issuer, claims)

    def _verified(self, issuer: _Issuer, claims: dict[str, Any]) -> VerifiedToken:
        exp, iat, sub = claims["exp"], claims["iat"], claims["sub"]
        if not isinstance(exp, int) or not isinstance(iat, int):
            raise InvalidTokenError("the token's exp and iat must be whole seconds")
        if iat > time.time() + LEEWAY_SECONDS:
            raise InvalidTokenError("the token is not valid yet")
        if issuer.capped and exp - iat > self.max_ttl:
            raise InvalidTokenError("the token's lifetime is over the maximum")
        if not isinstance(sub, str):
            raise InvalidTokenError("the token's sub is not a valid user id")
        user = f"{issuer.prefix}:{sub}" if issuer.prefix else sub
        if not is_valid_id(user):
            raise InvalidTokenError("the token's sub is not a valid user id")
        return VerifiedToken(user, issuer.iss, sub, scopes_of(claims), exp)

    def mint(
        self,
        user_id: str,
        scopes: frozenset[str] | None = None,
        ttl_seconds: int | None = None,
        audiences: tuple[str, ...] = (),
    ) -> MintedToken:
        """A token of this service for ``user_id`` (signed with the first signing key)."""
        if not self.signing_keys:
            raise ConfigError(
                "HEALTH_API_TOKEN_SIGNING_KEYS is not set: this service issues no tokens"
            )
        ttl = DEFAULT_TTL_SECONDS if ttl_seconds is None else ttl_seconds
        granted = " ".join(s for s in USER_SCOPES if scopes is None or s in scopes)
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": user_id,
            "aud": [self.audience, *(a for a in audiences if a != self.audience)],
            "iat": now,
            "exp": now + ttl,
            "scope": granted,
        }
        key = self.signing_keys[0]
        token = jwt.encode(claims, key.private, algorithm="ES256", headers={"kid": key.kid})
        return MintedToken(token, ttl, granted)

    def jwks(self) -> dict[str, Any]:
        """This service's public keys as a JWK Set (``/.well-known/jwks.json``)."""
        return {"keys": [key.jwk() for key in self.signing_keys]}


def scopes_of(claims: dict[str, Any]) -> frozenset[str]:
    """The user scopes a token grants: its ``scope`` (or ``scp``) string or list; both user
    scopes when it names none. Scopes this service does not know are ignored."""
    value = claims.get("scope", claims.get("scp"))
    if value is None:
        return frozenset(USER_SCOPES)
    names = value.split() if isinstance(value, str) else value if isinstance(value, list) else []
    return frozenset(n for n in names if n in USER_SCOPES)


def build_authority(settings: Settings) -> TokenAuthority:
    """The authority for ``settings`` (this service's keys resolved, generated in
    development)."""
    if settings.token_hs256_secret is not None:
        if len(settings.token_hs256_secret.encode()) < MIN_HS256_SECRET_BYTES:
            raise ConfigError(
                f"HEALTH_API_TOKEN_HS256_SECRET must be at least {MIN_HS256_SECRET_BYTES} bytes"
            )
        if not settings.token_hs256_issuer:
            raise ConfigError(
                "HEALTH_API_TOKEN_HS256_ISSUER is required with HEALTH_API_TOKEN_HS256_SECRET"
            )
        if settings.token_hs256_issuer == settings.token_issuer:
            raise ConfigError(
                "HEALTH_API_TOKEN_HS256_ISSUER must differ from HEALTH_API_TOKEN_ISSUER"
            )
    return TokenAuthority(settings, resolve_signing_keys(settings))
