"""The bootstrap object: what every request and tool call needs from the running process.

Built once at start-up, by ``create_app`` for REST and by ``mcp_entry`` for the MCP server, and
shared by every request of that process: the settings, the opened storage, the accepted keys
(and the file of generated development keys), the signing secret of cursors and hold ids, the
key-id secret of logged key ids, the clinic zone, and the limiters (per-key rate limit, failed
authentications per address, trusted proxies). It also turns an authenticated API key into the
:class:`~health_api.domain.caller.Caller` every service call receives.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from health_api.clients import AuthFailureLimit, TrustedProxies
from health_api.config import ApiKey, Settings
from health_api.domain.caller import Caller
from health_api.keys import key_id, resolve_key_id_secret, resolve_keys, scope_id
from health_api.ratelimit import FixedWindowLimiter
from health_api.services.times import zone
from health_api.signing import secret_for
from health_api.storage.base import Storage
from health_api.tokens import TokenAuthority, VerifiedToken, build_authority
from health_api.tokens.cache import VerifiedTokens

Keys = tuple[tuple[ApiKey, ...], Path | None]


def caller_of(api_key: ApiKey, key_id_secret: bytes, agent_access: str = "all") -> Caller:
    """The caller holding ``api_key`` (``key_id_secret``: the HMAC key of logged ids): its
    role and scopes (``agent_access``: ``HEALTH_API_AGENT_ACCESS``), ``key_id`` for logs,
    ``scope_id`` for its rate limit and idempotency keys; bound to no user."""
    return Caller.of_role(
        api_key.role, key_id(api_key.key, key_id_secret), scope_id(api_key.key), agent_access
    )


@functools.lru_cache(maxsize=4096)
def caller_of_token(verified: VerifiedToken, key_id_secret: bytes) -> Caller:
    """The caller holding a verified user token: bound to its user with its scopes; named in
    logs by an HMAC of ``{iss, sub}`` (as a key by an HMAC of the key); its rate limit and
    idempotency keys scoped by the bound user (every token of one user shares them).
    Remembered (bounded) like the verified token itself: a client sends the same token with
    every request, and the two hashes are half of what a cached token costs."""
    named = hmac.new(
        key_id_secret, f"{verified.issuer}\n{verified.subject}".encode(), hashlib.sha256
    ).hexdigest()[:12]
    scope = "user:" + hashlib.sha256(verified.user.encode()).hexdigest()[:16]
    return Caller.for_user(
        verified.user,
        verified.scopes,
        key_id=named,
        scope=scope,
        issuer=verified.issuer,
        subject=verified.subject,
    )


@dataclass(frozen=True)
class Kernel:
    """One process's dependencies (see the module doc)."""

    settings: Settings
    storage: Storage
    keys: tuple[ApiKey, ...]
    secret: bytes
    zone: ZoneInfo
    key_id_secret: bytes
    # Per key (HEALTH_API_RATE_LIMIT), per address (failed authentications), and the proxies
    # whose X-Forwarded-For is believed: counted in this process, shared by its requests.
    limiter: FixedWindowLimiter
    auth_failures: AuthFailureLimit
    proxies: TrustedProxies
    # Where the development keys are (None when they come from HEALTH_API_KEYS): a 401 says so.
    keys_file: Path | None = None
    # Who issues and verifies user tokens (this service's keys, the HS256 and OIDC issuers).
    tokens: TokenAuthority | None = None
    # A stdio MCP server has no request headers: it acts with one key (or token) for its life.
    stdio_caller: Caller | None = None
    verified_tokens: VerifiedTokens = field(default_factory=VerifiedTokens, compare=False)
    _callers: dict[str, Caller] = field(default_factory=dict, init=False, repr=False, compare=False)

    def caller_for(self, api_key: ApiKey) -> Caller:
        """The caller of an authenticated ``api_key`` (remembered: the keys are few)."""
        caller = self._callers.get(api_key.key)
        if caller is None:
            caller = self._callers[api_key.key] = caller_of(
                api_key, self.key_id_secret, self.settings.agent_access
            )
        return caller

    def caller_for_token(self, verified: VerifiedToken) -> Caller:
        """The caller of a verified user token."""
        return caller_of_token(verified, self.key_id_secret)


def build_kernel(
    settings: Settings,
    storage: Storage,
    *,
    keys: Keys | None = None,
    stdio_caller: Caller | None = None,
) -> Kernel:
    """The kernel for ``settings`` over an opened ``storage``. ``keys`` (the accepted keys and
    their development file) when the entry point resolved them before opening the storage, so
    that a missing key is reported before an unreachable store."""
    accepted, keys_file = keys if keys is not None else resolve_keys(settings)
    return Kernel(
        settings=settings,
        storage=storage,
        keys=accepted,
        secret=secret_for(settings, accepted),
        zone=zone(settings.timezone),
        # After the storage: a data directory that cannot be written is reported as the store's.
        key_id_secret=resolve_key_id_secret(settings),
        keys_file=keys_file,
        limiter=FixedWindowLimiter(settings.rate_limit),
        auth_failures=AuthFailureLimit(settings.auth_failure_limit),
        proxies=TrustedProxies(settings.forwarded_allow_ips),
        tokens=build_authority(settings),
        stdio_caller=stdio_caller,
    )
