"""An external issuer's keys: its JWKS found through OIDC discovery, cached.

- The keys are fetched on first use (``<issuer>/.well-known/openid-configuration`` names the
  ``jwks_uri``, remembered until a fetch of it fails), within 5 s for the whole fetch; a
  document that is not JSON, not a JWK Set or over 256 KiB is treated as an unreachable issuer
  (the token is refused, never a 500).
- Fetched keys are fresh for 5 minutes: a token arriving later refetches first, so a key the
  issuer retired (removed from its JWKS) is refused from the next fetch on.
- A token whose ``kid`` is not cached refetches (key rotation), at most once a minute per
  issuer, so a stream of made-up ``kid`` values cannot make this service hammer the issuer.
- An issuer that cannot be reached keeps its cached keys: tokens signed by them still verify.

PyJWT's ``PyJWKClient`` is not used: it has no OIDC discovery, refetches on every unknown
``kid`` (no rate limit), reads a document of any size, and its clock cannot be moved by tests.
"""

from __future__ import annotations

import http.client
import json
import logging
import threading
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import jwt

from health_api.tokens.errors import InvalidTokenError

FETCH_TIMEOUT_SECONDS = 5.0
REFETCH_INTERVAL_SECONDS = 60.0
FRESH_SECONDS = 300.0
MAX_DOCUMENT_BYTES = 256 * 1024

log = logging.getLogger("health_api.tokens")


class IssuerUnreachableError(Exception):
    """The issuer's discovery document or JWKS could not be fetched or read."""


class RemoteJwks:
    """The cached keys of one issuer (thread-safe: one fetch at a time).

    ``allow_http``: accept plain http URLs (development and tests only; production issuers
    are https, which the settings' checks enforce). ``clock``: monotonic seconds (tests move
    it instead of sleeping).
    """

    def __init__(
        self,
        issuer: str,
        *,
        timeout: float = FETCH_TIMEOUT_SECONDS,
        interval: float = REFETCH_INTERVAL_SECONDS,
        fresh: float = FRESH_SECONDS,
        allow_http: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.timeout = timeout
        self.interval = interval
        self.fresh = fresh
        self.allow_http = allow_http
        self.clock = clock
        self.fetches = 0  # attempts, for tests and diagnostics
        self._keys: dict[str, jwt.PyJWK] = {}
        self._jwks_uri: str | None = None
        self._attempted_at: float | None = None
        self._fetched_at: float | None = None
        self._lock = threading.Lock()

    def key_for(self, kid: str | None) -> jwt.PyJWK:
        """The public key named ``kid`` (None: the issuer's only key)."""
        with self._lock:
            now = self.clock()
            stale = self._fetched_at is None or now - self._fetched_at >= self.fresh
            key = None if stale else self._lookup(kid)
            may_fetch = self._attempted_at is None or now - self._attempted_at >= self.interval
            if key is None and may_fetch:
                # Stale keys, or an unknown kid (rotation): refetch; on failure the cached
                # keys (even stale) still serve.
                self._refresh(now)
            key = self._lookup(kid)
        if key is None:
            raise InvalidTokenError("the token's signing key is not known")
        return key

    def _lookup(self, kid: str | None) -> jwt.PyJWK | None:
        if kid is None:
            return next(iter(self._keys.values())) if len(self._keys) == 1 else None
        return self._keys.get(kid)

    def _refresh(self, now: float) -> None:
        self._attempted_at = now
        self.fetches += 1
        try:
            keys = self._fetch()
        except IssuerUnreachableError as exc:
            # Keep what is cached: tokens signed by known keys still verify.
            log.warning(
                "token issuer keys could not be fetched",
                extra={"issuer": self.issuer, "reason": str(exc)},
            )
            return
        self._keys = keys
        self._fetched_at = now

    def _fetch(self) -> dict[str, jwt.PyJWK]:
        # One time-out for discovery and JWKS together (the wall clock: a real wait).
        deadline = time.monotonic() + self.timeout
        uri = self._jwks_uri
        if uri is None:
            config = self._get_json(f"{self.issuer}/.well-known/openid-configuration", deadline)
            uri = config.get("jwks_uri") if isinstance(config, dict) else None
            if not isinstance(uri, str):
                raise IssuerUnreachableError("the discovery document names no jwks_uri")
        try:
            document = self._get_json(uri, deadline)
        except IssuerUnreachableError:
            self._jwks_uri = None  # discover again next time: the issuer may have moved it
            raise
        self._jwks_uri = uri
        if not isinstance(document, dict):
            raise IssuerUnreachableError("the JWKS is not a JSON object")
        try:
            keys = jwt.PyJWKSet.from_dict(document).keys
        except (jwt.PyJWTError, ValueError, TypeError, AttributeError, KeyError):
            raise IssuerUnreachableError("the JWKS holds no usable key") from None
        usable = [k for k in keys if k.algorithm_name in {"RS256", "ES256"}]
        if len(usable) == 1 and not usable[0].key_id:
            return {"": usable[0]}
        return {k.key_id: k for k in usable if k.key_id}

    def _get_json(self, url: str, deadline: float) -> Any:
        left = deadline - time.monotonic()
        if left <= 0:
            raise IssuerUnreachableError("timed out")
        schemes = ("https://", "http://") if self.allow_http else ("https://",)
        if not url.startswith(schemes):
            raise IssuerUnreachableError(f"not an {' or '.join(s[:-3] for s in schemes)} URL")
        request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=left) as response:  # noqa: S310
                body = response.read(MAX_DOCUMENT_BYTES + 1)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise IssuerUnreachableError(type(exc).__name__) from None
        if len(body) > MAX_DOCUMENT_BYTES:
            raise IssuerUnreachableError(f"a document over {MAX_DOCUMENT_BYTES} bytes")
        try:
            return json.loads(body)
        except ValueError:
            raise IssuerUnreachableError("a document that is not JSON") from None
