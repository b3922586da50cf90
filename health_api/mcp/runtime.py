"""What every tool call needs from the running server: settings, storage, keys, the signing
and key-id secrets and the clinic zone; and who is calling."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from health_api.config import ApiKey, Settings
from health_api.keys import key_id, resolve_key_id_secret, resolve_keys, scope_id
from health_api.services.times import zone
from health_api.signing import secret_for
from health_api.storage.base import Storage

# Where the HTTP transport's authentication leaves the caller's key (the ASGI scope's state).
SCOPE_KEY = "health_api.api_key"


@dataclass(frozen=True)
class Caller:
    """The API key behind a tool call: its role and its two ids (never the key): ``key_id``
    for logs, ``scope_id`` for its Idempotency-Keys and rate-limit bucket."""

    role: str
    key_id: str
    scope_id: str

    @property
    def is_admin(self) -> bool:
        """Admin keys see who holds a slot and every booking in a schedule."""
        return self.role == "admin"

    @classmethod
    def of(cls, api_key: ApiKey, key_id_secret: bytes) -> Caller:
        """The caller holding ``api_key`` (``key_id_secret``: the HMAC key of logged ids)."""
        return cls(api_key.role, key_id(api_key.key, key_id_secret), scope_id(api_key.key))


@dataclass(frozen=True)
class Runtime:
    """One server's dependencies, built once at start-up and shared by every tool call."""

    settings: Settings
    storage: Storage
    keys: tuple[ApiKey, ...]
    secret: bytes
    zone: ZoneInfo
    key_id_secret: bytes
    # Where the development keys are (None when they come from HEALTH_API_KEYS): a 401 says so.
    keys_file: Path | None = None
    # A stdio server has no request headers: it acts with one key for its whole life.
    stdio_caller: Caller | None = None

    def caller(self, request: Any) -> Caller:
        """The caller of a tool call: the key the HTTP transport authenticated (``request`` is
        the Starlette request of the call), else the stdio server's key."""
        if request is not None:
            api_key = request.scope.get("state", {}).get(SCOPE_KEY)
            if api_key is not None:
                return Caller.of(api_key, self.key_id_secret)
        if self.stdio_caller is not None:
            return self.stdio_caller
        # Unreachable behind the HTTP app (it answers 401 first); refuse rather than guess.
        raise PermissionError("no authenticated key for this call")


def build_runtime(settings: Settings, storage: Storage) -> Runtime:
    """The runtime for ``settings`` over an opened ``storage``."""
    keys, keys_file = resolve_keys(settings)
    return Runtime(
        settings=settings,
        storage=storage,
        keys=keys,
        secret=secret_for(settings, keys),
        zone=zone(settings.timezone),
        key_id_secret=resolve_key_id_secret(settings),
        keys_file=keys_file,
    )
