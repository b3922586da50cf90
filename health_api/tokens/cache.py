"""Tokens verified already, remembered by their SHA-256 until they expire, so that a client
sending the same token with every request pays for one signature check."""

from __future__ import annotations

import threading
from collections import OrderedDict

from health_api.tokens.verify import VerifiedToken

CACHE_SIZE = 4096


class VerifiedTokens:
    """Tokens verified already, by their SHA-256, until their ``exp`` (bounded LRU)."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self._items: OrderedDict[tuple[str, str], VerifiedToken] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, digest: str, audience: str, now: float) -> VerifiedToken | None:
        with self._lock:
            found = self._items.get((digest, audience))
            if found is None:
                return None
            if found.expires_at <= now:
                del self._items[(digest, audience)]
                return None
            self._items.move_to_end((digest, audience))
            return found

    def put(self, digest: str, audience: str, verified: VerifiedToken) -> None:
        with self._lock:
            self._items[(digest, audience)] = verified
            while len(self._items) > self.size:
                self._items.popitem(last=False)
