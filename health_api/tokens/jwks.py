"""An external issuer's keys: its JWKS found through OIDC discovery, cached.

- The keys are fetched on first use (``<issuer>/.well-known/openid-configuration`` names the
  ``jwks_uri``), each fetch with a 5 s time-out.
- A token whose ``kid`` is not cached refetches, at most once a minute per issuer; otherwise
  the unknown ``kid`` is refused at once.
- An issuer that cannot be reached keeps its cached keys: tokens signed by them still verify.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from typing import Any

import jwt

FETCH_TIMEOUT_SECONDS = 5.0
REFETCH_INTERVAL_SECONDS = 60.0
MAX_DOCUMENT_BYTES = 256 * 1024


class RemoteJwks:
    """The cached keys of one issuer (thread-safe: one fetch at a time)."""

    def __init__(
        self,
        issuer: str,
        *,
        timeout: float = FETCH_TIMEOUT_SECONDS,
        interval: float = REFETCH_INTERVAL_SECONDS,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.timeout = timeout
        self.interval = interval
        self._keys: dict[str, Any] = {}
        self._fetched_at: float | None = None
        self._lock = threading.Lock()

    def key_for(self, kid: str | None) -> Any:
        """The public key named ``kid`` (None: the issuer's only key)."""
        from health_api.tokens.verify import InvalidTokenError

        key = self._lookup(kid)
        if key is None:
            with self._lock:
                key = self._lookup(kid)
                due = self._fetched_at is None or (
                    time.monotonic() - self._fetched_at >= self.interval
                )
                if key is None and due:
                    self._refresh()
                    key = self._lookup(kid)
        if key is None:
            raise InvalidTokenError("the token's signing key is not known")
        return key

    def _lookup(self, kid: str | None) -> Any:
        if kid is None:
            return next(iter(self._keys.values())) if len(self._keys) == 1 else None
        return self._keys.get(kid)

    def _refresh(self) -> None:
        self._fetched_at = time.monotonic()
        try:
            config = _get_json(f"{self.issuer}/.well-known/openid-configuration", self.timeout)
            uri = config.get("jwks_uri") if isinstance(config, dict) else None
            if not isinstance(uri, str):
                return
            document = _get_json(uri, self.timeout)
            keys = jwt.PyJWKSet.from_dict(document).keys
        except (OSError, ValueError, jwt.PyJWTError):
            # Unreachable or unreadable: keep what is cached (the log says the issuer failed).
            import logging

            logging.getLogger("health_api.tokens").warning(
                "token issuer keys could not be fetched", extra={"issuer": self.issuer}
            )
            return
        self._keys = {k.key_id: k.key for k in keys if k.key_id}
        if len(keys) == 1 and not keys[0].key_id:
            self._keys = {"": keys[0].key}


def _get_json(url: str, timeout: float) -> Any:
    if not url.startswith(("https://", "http://")):
        raise ValueError("not an http(s) URL")
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        return json.loads(response.read(MAX_DOCUMENT_BYTES))
