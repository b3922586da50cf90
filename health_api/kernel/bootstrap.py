"""The bootstrap object: what every request and tool call needs from the running process.

Built once at start-up, by ``create_app`` for REST and by ``mcp_entry`` for the MCP server, and
shared by every request of that process: the settings, the opened storage, the accepted keys
(and the file of generated development keys), the signing secret of cursors and hold ids, the
key-id secret of logged key ids, the clinic zone, and the limiters (per-key rate limit, failed
authentications per address, trusted proxies). It also turns an authenticated API key into the
:class:`~health_api.domain.caller.Caller` every service call receives.
"""

from __future__ import annotations

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

Keys = tuple[tuple[ApiKey, ...], Path | None]


def caller_of(api_key: ApiKey, key_id_secret: bytes) -> Caller:
    """The caller holding ``api_key`` (``key_id_secret``: the HMAC key of logged ids): its
    role and scopes, ``key_id`` for logs, ``scope_id`` for its rate limit and idempotency keys;
    bound to no user."""
    return Caller.of_role(api_key.role, key_id(api_key.key, key_id_secret), scope_id(api_key.key))


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
    # A stdio MCP server has no request headers: it acts with one key for its whole life.
    stdio_caller: Caller | None = None
    _callers: dict[str, Caller] = field(default_factory=dict, init=False, repr=False, compare=False)

    def caller_for(self, api_key: ApiKey) -> Caller:
        """The caller of an authenticated ``api_key`` (remembered: the keys are few)."""
        caller = self._callers.get(api_key.key)
        if caller is None:
            caller = self._callers[api_key.key] = caller_of(api_key, self.key_id_secret)
        return caller


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
        stdio_caller=stdio_caller,
    )
