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

from health_api.config import TOKEN_MAX_TTL_RANGE, ConfigError, Settings
from health_api.domain.caller import USER_SCOPES
from health_api.domain.ids import is_valid_id
from health_api.tokens.errors import InvalidTokenError
from health_api.tokens.jwks import RemoteJwks
from health_api.tokens.signing_keys import SigningKey, resolve_signing_keys

_JWT_FORM = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")
LEEWAY_SECONDS = 60
# Longer bearers are refused before any parsing (a real token of this API is under 1 KiB).
MAX_TOKEN_CHARS = 8192
DEFAULT_TTL_SECONDS = 900
MIN_TTL_SECONDS = TOKEN_MAX_TTL_RANGE[0]


def looks_like_jwt(bearer: str) -> bool:
    """Whether a bearer that is no key has the form of a JWT (three base64url segments)."""
    return bearer.count(".") == 2 and _JWT_FORM.fullmatch(bearer) is not None


def _signed(reason: str) -> InvalidTokenError:
    """A refusal not counted as a failed authentication (a good signature, or expired)."""
    return InvalidTokenError(reason, counts_as_failure=False)


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
            # Plain http only in development (the settings' checks refuse it elsewhere).
            remote = RemoteJwks(iss, allow_http=settings.is_development)
            self.issuers[iss] = _Issuer(
                iss, ("RS256", "ES256"), remote=remote, prefix=prefix, capped=False
            )

    @property
    def external_issuers(self) -> tuple[str, ...]:
        """The external (OIDC) issuers' URLs, for RFC 9728 metadata."""
        return tuple(i.iss for i in self.issuers.values() if i.remote is not None)

    def verify(self, token: str, audience: str | None = None) -> VerifiedToken:
        """The verified claims of ``token`` for ``audience`` (default the token audience)."""
        if len(token) > MAX_TOKEN_CHARS:
            raise InvalidTokenError("the token is too long")
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
            # Also what stops algorithm confusion: HS256 "signed" with an ES/RS public key.
            raise InvalidTokenError("the token's algorithm is not its issuer's")
        exp = unverified.get("exp")
        if _is_number(exp) and exp + LEEWAY_SECONDS < time.time():
            # Refused before its signature is checked: an expired token can never pass, so it
            # costs no signature check (nor a JWKS fetch) and is no guess worth counting.
            raise _signed("the token has expired")
        kid = header.get("kid")
        key = issuer.key_for(kid if isinstance(kid, str) else None)
        if isinstance(key, jwt.PyJWK):
            if key.algorithm_name != alg:
                raise InvalidTokenError("the token's algorithm is not its key's")
            key = key.key
        claims = _decode(token, key, alg, audience or self.audience, issuer.iss)
        return self._verified(issuer, claims)

    def _verified(self, issuer: _Issuer, claims: dict[str, Any]) -> VerifiedToken:
        exp, iat, sub = claims["exp"], claims["iat"], claims["sub"]
        if not (_is_number(exp) and _is_number(iat)):
            raise _signed("the token's exp and iat must be numbers")
        if iat > time.time() + LEEWAY_SECONDS:
            raise _signed("the token is not valid yet")
        if issuer.capped and exp - iat > self.max_ttl:
            raise _signed("the token's lifetime is over the maximum")
        user = f"{issuer.prefix}:{sub}" if issuer.prefix and isinstance(sub, str) else sub
        if not is_valid_id(user):
            raise _signed("the token's sub is not a valid user id")
        return VerifiedToken(user, issuer.iss, sub, scopes_of(claims), int(exp))

    def mint(
        self,
        user_id: str,
        scopes: frozenset[str] | None = None,
        ttl_seconds: int | None = None,
        audiences: tuple[str, ...] = (),
    ) -> MintedToken:
        """A token of this service for ``user_id`` (signed with the first signing key), valid
        for ``ttl_seconds`` (default 15 minutes, at most the maximum lifetime); ``ValueError``
        for a ttl out of range or a user id outside the id rule."""
        if not self.signing_keys:
            raise ConfigError(
                "HEALTH_API_TOKEN_SIGNING_KEYS is not set: this service issues no tokens"
            )
        ttl = min(DEFAULT_TTL_SECONDS, self.max_ttl) if ttl_seconds is None else ttl_seconds
        if not MIN_TTL_SECONDS <= ttl <= self.max_ttl:
            raise ValueError(f"ttl must be between {MIN_TTL_SECONDS} and {self.max_ttl} seconds")
        if not is_valid_id(user_id):
            raise ValueError("the user id is not a valid id")
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


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _decode(token: str, key: Any, alg: str, audience: str, iss: str) -> dict[str, Any]:
    """The claims of ``token`` once its signature and registered claims hold."""
    try:
        return jwt.decode(
            token,
            key,
            algorithms=[alg],
            audience=audience,
            issuer=iss,
            leeway=LEEWAY_SECONDS,
            options={"require": ["sub", "exp", "iat"]},
        )
    except jwt.InvalidSignatureError:
        raise InvalidTokenError("the token's signature is not valid") from None
    except jwt.ExpiredSignatureError:
        raise _signed("the token has expired") from None
    except jwt.ImmatureSignatureError:
        raise _signed("the token is not valid yet") from None
    except jwt.InvalidAudienceError:
        raise _signed("the token is for another audience") from None
    except jwt.MissingRequiredClaimError as exc:
        raise _signed(f"the token lacks the {exc.claim!r} claim") from None
    except (jwt.InvalidKeyError, jwt.InvalidAlgorithmError, jwt.DecodeError):
        # Raised before or while checking the signature: nothing was proved.
        raise InvalidTokenError("the token's signature is not valid") from None
    except jwt.PyJWTError:
        # The other claim checks (iat, nbf, iss of the wrong type) come after the signature.
        raise _signed("the token is not valid") from None


def build_authority(settings: Settings) -> TokenAuthority:
    """The authority for ``settings`` (this service's keys resolved, generated in
    development; the settings' own checks already refused inconsistent token settings)."""
    return TokenAuthority(settings, resolve_signing_keys(settings))
